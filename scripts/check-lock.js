#!/usr/bin/env node
// Two checks on package-lock.json, for scripts/setup.sh (plain node, no tsx: it runs at every
// `npm test` and must cost milliseconds):
//
//   node scripts/check-lock.js            the lock is complete: it has every platform's optional
//                                         packages (@swc/core-darwin-*, ...). `npm ci` refuses a lock
//                                         without them as out of sync; this says how to fix it instead.
//   node scripts/check-lock.js installed  exit 0 if node_modules holds exactly what the lock says
//                                         (npm's own record, node_modules/.package-lock.json), 1 if
//                                         setup must run `npm ci`. By content, not by file times: a
//                                         rebase or checkout that touches the lock without changing it
//                                         must not cost a reinstall.
'use strict';
const { existsSync, readFileSync } = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const packagesOf = (file) => JSON.parse(readFileSync(file, 'utf8')).packages ?? {};
const packages = packagesOf(path.join(root, 'package-lock.json'));

function complete() {
  /** Whether npm finds `name` from the package at `dir` (node_modules lookup up the tree). */
  const resolves = (dir, name) => {
    for (let d = dir; ; d = d.slice(0, Math.max(0, d.lastIndexOf('/node_modules/')))) {
      if (packages[`${d ? `${d}/` : ''}node_modules/${name}`]) return true;
      if (!d) return false;
    }
  };
  const missing = [];
  for (const [dir, entry] of Object.entries(packages)) {
    for (const name of Object.keys(entry.optionalDependencies ?? {})) {
      if (!resolves(dir, name)) missing.push(`${name} (optional dependency of ${dir || 'the project'})`);
    }
  }
  if (!missing.length) return true;
  process.stderr.write(
    `[setup] package-lock.json lacks ${missing.length} optional package(s) of other platforms, so \`npm ci\` would refuse it:\n` +
      missing
        .slice(0, 10)
        .map((m) => `  ${m}\n`)
        .join('') +
      (missing.length > 10 ? `  ... and ${missing.length - 10} more\n` : '') +
      "[setup] write a complete lock: `rm -rf node_modules && npm install` (npm writes every platform's entries when it resolves\n" +
      '[setup] without an installed tree), then commit package-lock.json.\n',
  );
  return false;
}

function installed() {
  const hidden = path.join(root, 'node_modules', '.package-lock.json');
  if (!existsSync(hidden)) return false;
  const have = packagesOf(hidden);
  for (const [key, entry] of Object.entries(have)) {
    if (packages[key]?.version !== entry.version) return false; // changed, or no longer locked
    // npm's record can claim more than the tree holds: worktrees that share hard-linked copies of
    // node_modules share that file too, and an `npm install` in one rewrites it for all.
    if (key !== '' && !existsSync(path.join(root, key, 'package.json'))) return false;
  }
  for (const [key, entry] of Object.entries(packages)) {
    // Only optional packages may be absent: those of other platforms are never installed here.
    if (key !== '' && !(key in have) && !entry.optional) return false;
  }
  return true;
}

process.exit((process.argv[2] === 'installed' ? installed() : complete()) ? 0 : 1);

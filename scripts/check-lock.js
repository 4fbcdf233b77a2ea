#!/usr/bin/env node
// Refuses a package-lock.json that lacks other platforms' optional packages (@swc/core-darwin-*, ...).
// `npm ci` installs exactly the lock, and refuses such a lock as out of sync with package.json; setup
// runs this first so the operator is told how to fix the lock instead of reading npm's usage text.
// Plain node (no tsx): it runs at every `npm test` and must cost milliseconds.
'use strict';
const { readFileSync } = require('node:fs');
const path = require('node:path');

const lockFile = path.join(__dirname, '..', 'package-lock.json');
const lock = JSON.parse(readFileSync(lockFile, 'utf8'));
const packages = lock.packages ?? {};

/** Where npm would find `name` from the package at `dir` (node_modules lookup up the tree). */
function resolves(dir, name) {
  for (let d = dir; ; d = d.slice(0, Math.max(0, d.lastIndexOf('/node_modules/')))) {
    if (packages[`${d ? `${d}/` : ''}node_modules/${name}`]) return true;
    if (!d) return false;
  }
}

const missing = [];
for (const [dir, entry] of Object.entries(packages)) {
  for (const name of Object.keys(entry.optionalDependencies ?? {})) {
    if (!resolves(dir, name)) missing.push(`${name} (optional dependency of ${dir || 'the project'})`);
  }
}
if (missing.length) {
  process.stderr.write(
    `[setup] package-lock.json lacks ${missing.length} optional package(s) of other platforms, so \`npm ci\` would refuse it:\n` +
      missing.slice(0, 10).map((m) => `  ${m}\n`).join('') +
      (missing.length > 10 ? `  ... and ${missing.length - 10} more\n` : '') +
      '[setup] write a complete lock: `rm -rf node_modules && npm install` (npm writes every platform\'s entries when it resolves\n' +
      '[setup] without an installed tree), then commit package-lock.json.\n',
  );
  process.exit(1);
}

import { mkdirSync, openSync, readFileSync, rmSync, writeSync, closeSync } from 'node:fs';
import path from 'node:path';
import { lockPath } from './paths';
import { isRunning, processRef, type ProcessRef } from './processes';

// lab up and lab down change namespaces, loop devices and the inventory; two of them at once (a test
// run and the CLI, say) would start a host twice or stop one mid-build. One lock file per lab folder
// serialises processes, a promise chain serialises calls within this process.

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let inProcess: Promise<unknown> = Promise.resolve();

function readOwner(file: string): ProcessRef | null {
  try {
    const owner = JSON.parse(readFileSync(file, 'utf8')) as Partial<ProcessRef>;
    return typeof owner.pid === 'number' && typeof owner.start === 'string' ? { pid: owner.pid, start: owner.start } : null;
  } catch {
    return null;
  }
}

async function acquire(log: (line: string) => void, timeoutMs: number): Promise<() => void> {
  const file = lockPath();
  mkdirSync(path.dirname(file), { recursive: true });
  const me = processRef(process.pid);
  const deadline = Date.now() + timeoutMs;
  let told = false;
  let unreadableSince: number | undefined;
  for (;;) {
    try {
      const fd = openSync(file, 'wx');
      writeSync(fd, JSON.stringify(me));
      closeSync(fd);
      return () => rmSync(file, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner = readOwner(file);
    if (owner === null) {
      // Being written this instant, or garbage left by a crash: give a writer a moment, then break it.
      unreadableSince ??= Date.now();
      if (Date.now() - unreadableSince > 1000) rmSync(file, { force: true });
      await sleep(20);
    } else if (!isRunning(owner)) {
      rmSync(file, { force: true }); // its holder died without releasing it
    } else {
      unreadableSince = undefined;
      if (Date.now() > deadline)
        throw new Error(`the lab folder is locked by pid ${owner.pid} (another lab up or down) for over ${timeoutMs / 1000} s; wait for it, or if it hangs, stop that process`);
      if (!told) log(`waiting for pid ${owner.pid}, which holds the lab lock ${file}`);
      told = true;
      await sleep(100);
    }
  }
}

/** Run fn holding the lab lock. */
export function withLabLock<T>(log: (line: string) => void, fn: () => Promise<T>, timeoutMs = 30 * 60_000): Promise<T> {
  const run = inProcess.then(async () => {
    const release = await acquire(log, timeoutMs);
    try {
      return await fn();
    } finally {
      release();
    }
  });
  inProcess = run.catch(() => undefined);
  return run;
}

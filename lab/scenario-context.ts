import path from 'node:path';
import { execInHost, spawnInHost } from './exec';
import { updateManifest } from './manifest';
import { hostDir } from './paths';
import { processRef } from './processes';
import type { ScenarioContext } from './scenarios/types';

/** What a scenario's build, check and teardown get for one host: commands in it, and ways to register what to clean up. */
export function scenarioContext(host: string, log: (line: string) => void): ScenarioContext {
  return {
    host,
    hostDir: hostDir(host),
    exec: (script, opts) => execInHost(host, script, opts),
    spawn: (script, opts) => spawnInHost(host, script, opts),
    recordPid(pid) {
      const ref = processRef(pid);
      if (!ref) throw new Error(`cannot record pid ${pid} for lab host ${host}: no such process on this machine (record the pid as seen outside the host, e.g. what ctx.spawn returns)`);
      updateManifest(host, (m) => {
        if (!m.pids.some((p) => p.pid === ref.pid && p.start === ref.start)) m.pids.push(ref);
      });
    },
    recordLoopBackingFile(file) {
      if (!path.isAbsolute(file)) throw new Error(`a loop device's backing file must be an absolute path, not "${file}"`);
      updateManifest(host, (m) => {
        if (!m.loopBackingFiles.includes(file)) m.loopBackingFiles.push(file);
      });
    },
    recordPath(p) {
      if (!path.isAbsolute(p)) throw new Error(`a recorded path must be absolute, not "${p}"`);
      updateManifest(host, (m) => {
        if (!m.paths.includes(p)) m.paths.push(p);
      });
    },
    log: (msg) => log(`${host}: ${msg}`),
  };
}

import { sh } from '../ssh/command';
import { LSOF_DELETED_FIELDS } from './lsof';

// Commands for step 6 (release space held by deleted-but-open files). Pure: the workflow shows
// them in plans; the activity runs them.

export const serviceCommands = {
  /** Open files with a link count below one: deleted, but their space is still in use. */
  deletedOpenFiles: () => sh`lsof -n +L1 -F ${LSOF_DELETED_FIELDS}`,
  readPidFile: (file: string) => sh`cat ${file}`,
  /**
   * A graceful restart through the supervisor: TERM the holder only if its parent is still the
   * supervisor (so something starts it again) and it is still the process we looked at; then wait
   * for it to finish its requests and exit. Checked and done in one remote script, so a recycled
   * pid is never signalled.
   */
  terminateSupervisedChild: (pid: number, supervisorPid: number, waitSeconds: number) =>
    sh`pid=${pid}; sup=${supervisorPid}
if [ ! -d /proc/$pid ]; then echo already-exited; exit 0; fi
ppid=$(awk '/^PPid:/ {print $2}' /proc/$pid/status)
if [ "$ppid" != "$sup" ]; then echo "process $pid has parent $ppid, not the supervisor $sup: refusing to stop it" >&2; exit 3; fi
kill -TERM $pid
for i in $(seq 1 ${waitSeconds * 20}); do [ -d /proc/$pid ] || { echo exited; exit 0; }; sleep 0.05; done
echo "process $pid did not exit within ${waitSeconds}s of SIGTERM" >&2; exit 4`,
  /** Children of the supervisor, newest last: who serves now. */
  childrenOf: (pid: number) => sh`ps -o pid= --ppid ${pid}`,
  processAlive: (pid: number) => sh`test -d /proc/${pid}`,
};

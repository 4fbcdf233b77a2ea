// The programs the scenario installs on its lab host or runs there, as text. They run with the
// distribution's /usr/bin/python3 (never a pyenv shim: the host must not depend on root's dotfiles).

export const PYTHON = '/usr/bin/python3';

export interface ServiceConfig {
  address: string;
  port: number;
  objectsDir: string;
  /** While this file exists, the service's next start leaks a temp file of the size it holds. */
  leakFlag: string;
  tempFile: string;
  /** Folder (host-private /run) for the service's pid files. */
  runDir: string;
}

/**
 * The object service (the seed's /usr/local/bin/server): serves objectsDir over HTTP. Like the
 * incident's, one start of it created a large temp file, deleted it and kept it open, so the space
 * stays in use until the process goes (`lsof +L1` shows it). It leaks only once (the flag file is
 * consumed), so a restart frees the space for good. SIGTERM makes it finish in-flight requests and exit 0.
 */
export function objectServer(cfg: ServiceConfig): string {
  return `#!${PYTHON}
"""Object service of the readonly-data lab host: GET /<name> serves ${cfg.objectsDir}/<name>."""
import functools
import http.server
import os
import signal
import sys
import threading

ADDRESS = ${JSON.stringify(cfg.address)}
PORT = ${cfg.port}
OBJECTS = ${JSON.stringify(cfg.objectsDir)}
LEAK_FLAG = ${JSON.stringify(cfg.leakFlag)}
TEMP_FILE = ${JSON.stringify(cfg.tempFile)}
RUN_DIR = ${JSON.stringify(cfg.runDir)}

held = []
if os.path.exists(LEAK_FLAG):
    # The incident's leak: a scratch file, unlinked but still open (fd 3, read-only, as lsof showed).
    size = int(open(LEAK_FLAG).read().strip())
    fd = os.open(TEMP_FILE, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    os.posix_fallocate(fd, 0, size)
    ro = os.open("/proc/self/fd/%d" % fd, os.O_RDONLY)
    os.close(fd)
    if ro != 3:
        os.dup2(ro, 3)
        os.close(ro)
    held.append(3)
    os.unlink(TEMP_FILE)
    os.unlink(LEAK_FLAG)


class Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, fmt, *args):
        pass  # one line per request would flood the log during the 50 ms downtime probe


http.server.ThreadingHTTPServer.allow_reuse_address = True
server = http.server.ThreadingHTTPServer((ADDRESS, PORT), functools.partial(Handler, directory=OBJECTS))
server.daemon_threads = False  # SIGTERM waits for in-flight requests


def stop(signum, frame):
    threading.Thread(target=server.shutdown, daemon=True).start()


signal.signal(signal.SIGTERM, stop)
os.makedirs(RUN_DIR, exist_ok=True)
with open(os.path.join(RUN_DIR, "server.pid"), "w") as f:
    f.write("%d\\n" % os.getpid())
print("object service pid %d on %s:%d serving %s" % (os.getpid(), ADDRESS, PORT, OBJECTS), flush=True)
server.serve_forever()
server.server_close()
sys.exit(0)
`;
}

/** The supervisor (the seed's run.sh): restarts the service whenever it exits; stops it on SIGTERM. */
export function supervisor(serverPath: string, runDir: string): string {
  return `#!/bin/bash
# Keeps the object service up: whenever it exits it is started again (the incident's run.sh).
# SIGTERM stops the service politely, then the supervisor.
mkdir -p ${runDir}
echo $$ > ${runDir}/supervisor.pid
child=
trap 'if [ -n "$child" ]; then kill -TERM "$child" 2>/dev/null; wait "$child"; fi; exit 0' TERM INT
while :; do
  ${PYTHON} ${serverPath} &
  child=$!
  wait "$child"
  echo "$(date '+%F %T') object service (pid $child) exited with status $?; restarting"
  sleep 0.1
done
`;
}

/**
 * Writes `count` objects of random content totalling about `totalBytes` into dir and a sha256sum
 * manifest (paths relative to dir), so `cd dir && sha256sum -c manifest` verifies them.
 */
export const GENERATE_OBJECTS = `
import hashlib, os, random, sys
root, manifest, count, total = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
rng = random.Random(2)  # the same sizes every build
weights = [rng.paretovariate(1.5) for _ in range(count)]
scale = total / sum(weights)
os.makedirs(root, exist_ok=True)
lines = []
for i, w in enumerate(weights):
    name = "obj-%s" % hashlib.sha1(str(i).encode()).hexdigest()[:16]
    data = os.urandom(max(1, int(w * scale)))
    with open(os.path.join(root, name), "wb") as f:
        f.write(data)
    lines.append("%s  %s\\n" % (hashlib.sha256(data).hexdigest(), name))
os.sync()
with open(manifest + ".tmp", "w") as f:
    f.writelines(lines)
os.rename(manifest + ".tmp", manifest)
print(count)
`;

/**
 * The fill test (the seed's "Simulating object creation to trigger disk growth"): writes files of
 * fileBytes, filled from the kernel's random source (getrandom, what /dev/urandom reads) 1 MiB at a
 * time, into dir at rateMBps (0 = back to back, at the disk's full speed) until the filesystem is at
 * least goalBytes (goal 0: until a write fails), printing one JSON line per file. A failed write
 * ends it (exit 2): the point is that the auto-grow guard keeps ahead of the writer.
 * argv: dir mount fileBytes goalBytes rateMBps maxFiles
 */
export const FILL_TEST = `
import errno, json, math, os, sys, time
d, mount, file_bytes, goal, rate, max_files = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
os.makedirs(d, exist_ok=True)
def fs():
    st = os.statvfs(mount)
    size = st.f_blocks * st.f_frsize
    used = (st.f_blocks - st.f_bfree) * st.f_frsize
    avail = st.f_bavail * st.f_frsize
    return size, used, avail, math.ceil(used * 100 / (used + avail)) if used + avail else 100
def say(**kw):
    print(json.dumps(kw), flush=True)
existing = [int(n) for n in os.listdir(d) if n.isdigit()]
i = max(existing, default=0)
start = time.monotonic()
written = 0
made = 0
def secs():
    return round(time.monotonic() - start, 3)
while True:
    size, used, avail, pct = fs()
    if goal > 0 and size >= goal:
        say(event="done", files=made, sizeBytes=size, usedPct=pct, seconds=secs(), writtenBytes=written)
        sys.exit(0)
    if made >= max_files:
        say(event="gave-up", files=made, sizeBytes=size, usedPct=pct, reason="the filesystem did not reach the goal within %d files" % max_files)
        sys.exit(3)
    i += 1
    path = os.path.join(d, str(i))
    try:
        with open(path, "wb") as f:
            left = file_bytes
            while left > 0:
                n = min(1048576, left)
                f.write(os.urandom(n))
                left -= n
                written += n
                if rate > 0:
                    ahead = start + written / (rate * 1e6) - time.monotonic()
                    if ahead > 0:
                        time.sleep(ahead)
            f.flush()
            os.fsync(f.fileno())
    except OSError as e:
        size, used, avail, pct = fs()
        say(event="write-failed", file=path, errno=errno.errorcode.get(e.errno, str(e.errno)), error=str(e), sizeBytes=size, usedPct=pct, seconds=secs(), writtenBytes=written)
        sys.exit(2)
    made += 1
    size, used, avail, pct = fs()
    say(event="file", file=path, usedPct=pct, sizeBytes=size, t=secs())
`;

import net from 'node:net';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One attempt: connect and read the SSH identification line ("SSH-2.0-OpenSSH_9.2 ..."). */
function readBanner(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: address, port });
    let data = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.on('data', (b: Buffer) => {
      data += b.toString('latin1');
      if (data.includes('\n')) done(data.startsWith('SSH-2.0-'));
    });
    socket.on('error', () => done(false));
    socket.on('close', () => done(false));
  });
}

/** Wait until an sshd accepts connections on address:port (it has sent its banner), or timeoutMs passes. */
export async function waitForSshBanner(address: string, port: number, timeoutMs: number, stillAlive: () => boolean): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await readBanner(address, port)) return true;
    if (!stillAlive()) return false;
    await sleep(20);
  }
  return false;
}

/** True when something accepts TCP connections on address:port (refused or timed out: false). */
export function somethingListens(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: address, port });
    socket.setTimeout(1000, () => {
      socket.destroy();
      resolve(false);
    });
    socket.on('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

import net from 'node:net';
import tls from 'node:tls';

// For bench/zfs-stream.ts BENCH_TRANSPORTS=1 only: the worker relaying one stream between two hosts
// over sockets instead of SSH channels. Each host connects out to the port this process listens on
// (the receiver first), the sender's socket is pipe()d into the receiver's, and the relay ends when
// the receiver's socket closes. Not used by any runbook: see runbooks/replicateProject/README.md
// (plain TCP is unencrypted and unauthenticated; `openssl s_client` is slower than SSH; TLS between
// the hosts, bench/tls-endpoint.py, is faster but needs python3 on them and a port here they can dial).

export type RelayKind = 'tcp' | 'tls-psk';

export interface Relay {
  port: number;
  /** The receiving host has connected (and, with TLS, completed its handshake). */
  receiverConnected: Promise<void>;
  /** Bytes relayed, once the receiver's socket has closed. */
  done: Promise<number>;
  close(): void;
}

/** TLS 1.2 with a pre-shared key: what `openssl s_client -psk` speaks without certificates. */
export const PSK_CIPHER = 'PSK-AES128-GCM-SHA256';

export async function startRelay(kind: RelayKind, psk?: Buffer, twoWay = false): Promise<Relay> {
  let receiver: net.Socket | undefined;
  let onReceiver!: () => void;
  const receiverConnected = new Promise<void>((r) => (onReceiver = r));
  let finish!: (bytes: number) => void;
  let fail!: (err: Error) => void;
  const done = new Promise<number>((res, rej) => ((finish = res), (fail = rej)));
  const roles = new WeakMap<net.Socket, string>();
  const onSocket = (s: net.Socket, role: string) => {
    s.on('error', (err) => fail(new Error(`${role} socket: ${err.message}`)));
    if (role === 'recv') {
      receiver = s;
      s.on('close', () => finish(bytes));
      onReceiver();
      return;
    }
    if (!receiver) return fail(new Error('the sender connected before the receiver'));
    s.on('data', (chunk: Buffer) => (bytes += chunk.length));
    s.pipe(receiver);
    // Hosts that run TLS between themselves need the way back for the handshake. The receiver's side
    // ends only once read to the end, so it is drained when the sender's socket is gone.
    if (twoWay) {
      receiver.pipe(s);
      s.on('close', () => receiver?.resume());
    }
  };
  let bytes = 0;
  let connections = 0;
  const server =
    kind === 'tcp'
      ? net.createServer((s) => onSocket(s, connections++ === 0 ? 'recv' : 'send'))
      : tls.createServer(
          {
            ciphers: PSK_CIPHER,
            minVersion: 'TLSv1.2',
            maxVersion: 'TLSv1.2',
            pskCallback: (socket: tls.TLSSocket, identity: string) => {
              roles.set(socket, identity);
              return identity === 'send' || identity === 'recv' ? (psk ?? null) : null;
            },
          },
          (s) => onSocket(s, roles.get(s) ?? 'unknown'),
        );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as net.AddressInfo).port, receiverConnected, done, close: () => server.close() };
}

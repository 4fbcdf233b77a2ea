import { SshPool } from './pool';

let pool: SshPool | undefined;

/** The worker's one pool: one connection per host, shared by all activities. */
export function sharedPool(): SshPool {
  pool ??= new SshPool();
  return pool;
}

export function closeSharedPool(): void {
  pool?.close();
  pool = undefined;
}

import { holdTagSchema } from '../zfs/commands';

// The replication ledger lives on the datasets themselves, as ZFS user properties, so it travels with
// the pool (a rebuilt worker, a lost database or a restored history cannot make it lie) and any
// operator can read it with `zfs get -o name,property,value,source all projects/<uuid>`.
// Pure: workflows import it to plan the exact `zfs set` commands.

const MODULE = 'durable-runbooks';

export const LEDGER = {
  /** `source` on the copy that serves the project, `replica` on the others (absent on copies no runbook touched yet). */
  role: `${MODULE}:role`,
  /** On a replica: the short name of the newest snapshot it received. */
  lastSnapshot: `${MODULE}:last-snapshot`,
  /** ...and that snapshot's guid, the only proof of identity (a name can be reused). */
  lastGuid: `${MODULE}:last-guid`,
  /** ...and when the receive completed (ISO-8601 UTC). */
  receivedAt: `${MODULE}:received-at`,
  /** ...and from which host. */
  receivedFrom: `${MODULE}:received-from`,
  /** On a source made by moveProject: when it was promoted (ISO-8601 UTC), from which host, at which snapshot. */
  promotedAt: `${MODULE}:promoted-at`,
  promotedFrom: `${MODULE}:promoted-from`,
  promotedSnapshot: `${MODULE}:promoted-snapshot`,
} as const;

export const LEDGER_PROPERTIES: string[] = Object.values(LEDGER);

export interface Ledger {
  role?: 'source' | 'replica';
  lastSnapshot?: string;
  lastGuid?: string;
  receivedAt?: string;
  receivedFrom?: string;
  promotedAt?: string;
  promotedFrom?: string;
  promotedSnapshot?: string;
}

/** The ledger as `zfs get` returned it (local or received values only; inherited ones belong to a parent). */
export function ledgerFromProperties(props: Record<string, { value: string; source: string }>): Ledger {
  const own = (name: string): string | undefined => {
    const p = props[name];
    return p && (p.source === 'local' || p.source === 'received') ? p.value : undefined;
  };
  const role = own(LEDGER.role);
  const ledger: Ledger = {};
  if (role === 'source' || role === 'replica') ledger.role = role;
  const fields: Array<[keyof Ledger, string]> = [
    ['lastSnapshot', LEDGER.lastSnapshot],
    ['lastGuid', LEDGER.lastGuid],
    ['receivedAt', LEDGER.receivedAt],
    ['receivedFrom', LEDGER.receivedFrom],
    ['promotedAt', LEDGER.promotedAt],
    ['promotedFrom', LEDGER.promotedFrom],
    ['promotedSnapshot', LEDGER.promotedSnapshot],
  ];
  for (const [key, prop] of fields) {
    const v = own(prop);
    if (v !== undefined) (ledger as Record<string, string>)[key] = v;
  }
  return ledger;
}

/** What a replica's ledger says after a receive. */
export function receivedLedger(snapshot: string, guid: string, at: string, from: string): Record<string, string> {
  return { [LEDGER.role]: 'replica', [LEDGER.lastSnapshot]: snapshot, [LEDGER.lastGuid]: guid, [LEDGER.receivedAt]: at, [LEDGER.receivedFrom]: from };
}

/** A replica's "last received" entries as properties to set again (only those it had). */
export function receivedLedgerProperties(l: Ledger): Record<string, string> {
  const out: Record<string, string> = {};
  if (l.lastSnapshot) out[LEDGER.lastSnapshot] = l.lastSnapshot;
  if (l.lastGuid) out[LEDGER.lastGuid] = l.lastGuid;
  if (l.receivedAt) out[LEDGER.receivedAt] = l.receivedAt;
  if (l.receivedFrom) out[LEDGER.receivedFrom] = l.receivedFrom;
  return out;
}

/**
 * The hold tag a replica keeps on its base snapshot on the source, one tag per replica host (zrepl's
 * per-job cursor): retention can never destroy a snapshot a replica still needs, even retention run by
 * another tool, because ZFS itself refuses to destroy a held snapshot ("dataset is busy").
 */
export function replicaHoldTag(replicaHost: string): string {
  return holdTagSchema.parse(`rb-repl:${replicaHost}`);
}

import { maasRepartitionPreflight, PreflightUnavailable } from '../runbooks/maasRepartition/preflight';

// Pre-flights: read-only checks a starter runs before it starts a runbook, for problems only the
// infrastructure can tell (an unknown machine, partitions that do not fit its real disk). Each
// returns every problem, static (the schema's) and infrastructure-dependent together; an empty list
// means "start it". They run where the starter runs (the CLI, a test), never in a workflow: they
// make network calls, and a workflow's sandbox has none. A runbook without one is validated by its
// schema alone; every runbook still refuses the same problems itself (a Web UI start has no pre-flight).

export type Preflight = (input: Record<string, unknown>) => Promise<string[]>;

export { PreflightUnavailable };

export const preflights: Record<string, Preflight> = {
  maasRepartition: maasRepartitionPreflight,
};

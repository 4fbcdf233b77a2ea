import type { RecordingCase } from './types';

// hostFacts is read-only: a run over both base hosts, one naming a host the inventory lacks, and one
// with a host that is in the inventory but down (connection refused), which the engine retries with
// backoff until it gives up: a history with several attempts, their errors and the waits between.
// collect-facts is a quick step (local activities) since the patch QUICK_STEPS_PATCH: 'completed-quick'
// records that shape; test/histories/hostFacts/completed.json was recorded before the patch (ordinary
// activities, no patch marker) and must keep replaying: do not re-record it.
export const cases: RecordingCase[] = [
  { runbook: 'hostFacts', name: 'completed-quick', input: () => ({ hosts: ['node1', 'node2'] }), end: 'COMPLETED' },
  { runbook: 'hostFacts', name: 'unknown-host', input: () => ({ hosts: ['node1', 'no-such-host'] }), end: 'FAILED' },
  {
    runbook: 'hostFacts',
    name: 'retried-then-failed',
    input: () => ({ hosts: ['node1', 'down-host'] }),
    // Nothing listens on 127.0.0.254 (lab hosts use 127.0.0.1x, 2x, 3x).
    extraHosts: { 'down-host': { address: '127.0.0.254', port: 22 } },
    end: 'FAILED',
  },
];

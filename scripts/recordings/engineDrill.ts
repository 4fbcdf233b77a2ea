import type { RecordingCase } from './types';
import { decide, refusedApproval, waitForApprovalGate, waitForAudit } from './drive';

// engineDrill exercises every engine path on lab host node1; each case is one path.
const host = 'node1';
const dir = (uniq: string) => `/var/tmp/engine-drill/recorded-${uniq}`;

export const cases: RecordingCase[] = [
  { runbook: 'engineDrill', name: 'completed', input: (u) => ({ host, dir: dir(u), steps: 3 }), end: 'COMPLETED' },
  { runbook: 'engineDrill', name: 'quick-steps', input: (u) => ({ host, dir: dir(u), steps: 3, action: 'read-true' }), end: 'COMPLETED' },
  {
    runbook: 'engineDrill',
    name: 'failed-compensated',
    input: (u) => ({ host, dir: dir(u), steps: 4, failAtStep: 3 }),
    end: 'FAILED',
  },
  {
    runbook: 'engineDrill',
    name: 'approved',
    input: (u) => ({ host, dir: dir(u), steps: 3, gatedSteps: ['step-2'] }),
    drive: async (h) => {
      await waitForApprovalGate(h, 'step-2');
      // a refused approval first (wrong step): only the engine's audit log keeps it
      await refusedApproval(h, 'step-3', 'mallory');
      await decide(h, 'step-2', 'approve', 'alice', 'change window CHG-1234 is open');
    },
    end: 'COMPLETED',
  },
  {
    runbook: 'engineDrill',
    name: 'rejected',
    input: (u) => ({ host, dir: dir(u), steps: 3, gatedSteps: ['step-2'] }),
    drive: async (h) => {
      await waitForApprovalGate(h, 'step-2');
      await decide(h, 'step-2', 'reject', 'bob', 'not during peak hours');
    },
    end: 'FAILED',
  },
  {
    runbook: 'engineDrill',
    name: 'approval-timed-out',
    input: (u) => ({ host, dir: dir(u), steps: 2, gatedSteps: ['step-2'], approvalTimeout: '2s' }),
    end: 'FAILED',
  },
  {
    runbook: 'engineDrill',
    name: 'cancelled',
    input: (u) => ({ host, dir: dir(u), steps: 3, gatedSteps: ['step-3'] }),
    drive: async (h) => {
      await waitForApprovalGate(h, 'step-3');
      await h.cancel();
    },
    end: 'CANCELLED',
  },
  {
    runbook: 'engineDrill',
    name: 'cancelled-mid-step',
    input: (u) => ({ host, dir: dir(u), steps: 3, stepSeconds: 2 }),
    drive: async (h) => {
      await waitForAudit(h, (a) => a.steps.some((s) => s.name === 'step-2' && s.status === 'running'));
      await h.cancel();
    },
    end: 'CANCELLED',
  },
  {
    runbook: 'engineDrill',
    name: 'running-waiting-approval',
    input: (u) => ({ host, dir: dir(u), steps: 3, gatedSteps: ['step-2'] }),
    drive: async (h) => {
      await waitForApprovalGate(h, 'step-2');
    },
    end: 'RUNNING',
  },
  {
    runbook: 'engineDrill',
    name: 'plan',
    input: (u) => ({ host, dir: dir(u), steps: 3, gatedSteps: ['step-2'], mode: 'plan' }),
    end: 'COMPLETED',
  },
];

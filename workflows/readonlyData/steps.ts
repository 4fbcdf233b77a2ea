// The step names of fixReadonlyData, in order. Operators use them in `approve` (pre-approval) and in
// the approve update, so they are part of the runbook's interface: README.md documents each.
export const STEP = {
  diagnose: 'diagnose',
  remount: 'remount-rw',
  allocatable: 'make-pvs-allocatable',
  resize: 'resize-pvs',
  rebuild: 'rebuild-offset-pvs',
  rebuildCleanup: 'settle-offset-pvs',
  release: 'release-deleted-files',
  disks: 'add-disks',
  extend: 'extend-volume',
  guard: 'start-auto-grow-guard',
} as const;

/** The steps an operator must approve (or pre-approve with input.approve). */
export const GATED_STEPS = [STEP.rebuild, STEP.release] as const;

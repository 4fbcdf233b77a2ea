/** Workflow time (deterministic: Date.now() in a workflow is the time of the current workflow task). */
export function nowIso(): string {
  return new Date(Date.now()).toISOString();
}

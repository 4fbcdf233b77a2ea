import type { NeedsOperator } from '../engine/operator-report';

// What a sweep tells the operator about a replicateProject child that failed. The child ends with
// one message: "replicateProject failed at step refused-replicas: REFUSED <why>. Nothing on it was
// changed. <remedy> | FAILED <why> | ...". Its refusals are written with LEFT_UNCHANGED between the
// problem and the remedy, so the sweep can hand each refused replica back as {problem, remedy}.

/** Between a refusal's problem and its remedy (replicateProject writes it, the sweep reads it). */
export const LEFT_UNCHANGED = 'Nothing on it was changed.';

export interface ChildPlacement {
  project: string;
  source: string | null;
  replicas?: string[];
  workflowId: string | null;
}

function lookAt(workflowId: string | null): string {
  return workflowId
    ? `see why with \`runbook status ${workflowId}\` (steps) or \`runbook retro ${workflowId}\`; fix the cause, then the next sweep tries it again`
    : 'fix the cause, then the next sweep tries it again';
}

/** One entry per refused or failed replica (or one for the whole project when it failed before its replicas). */
export function childNeedsOperator(p: ChildPlacement, message: string): NeedsOperator[] {
  const body = message.replace(/^replicateProject (failed|was cancelled)( at step \S+)?: /, '');
  const parts = body.split(' | ');
  return parts.map((part): NeedsOperator => {
    const refused = part.startsWith('REFUSED ');
    const text = part.replace(/^(REFUSED|FAILED) /, '');
    const at = text.indexOf(LEFT_UNCHANGED);
    if (refused && at >= 0) {
      const one =
        p.source && p.replicas
          ? ` One project at a time: \`runbook start replicateProject --input '${JSON.stringify({ project: p.project, source: p.source, replicas: p.replicas, allowRollback: true })}'\`.`
          : '';
      return { target: p.project, kind: 'refused', problem: text.slice(0, at).trim(), remedy: `${text.slice(at).trim()}${one}`, workflowId: p.workflowId };
    }
    return { target: p.project, kind: refused ? 'refused' : 'failed', problem: text, remedy: lookAt(p.workflowId), workflowId: p.workflowId };
  });
}

/** Whether a child's failure is only refusals (nothing broke; the sweep left diverged replicas alone). */
export function onlyRefused(message: string): boolean {
  const body = message.replace(/^replicateProject (failed|was cancelled)( at step \S+)?: /, '');
  return body.split(' | ').every((part) => part.startsWith('REFUSED '));
}

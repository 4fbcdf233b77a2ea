import type * as activities from '../activities';
import { drillDoCommand, drillSettleCommand } from '../activities/drill/commands';
import { sh } from '../activities/ssh/command';
import { engineDrillDefinition } from '../runbooks/engineDrill/definition';
import { Runbook, type RunbookResult } from './engine/runbook';

/**
 * engineDrill: a harmless runbook for exercising the engine on a lab host. Each step appends a
 * marker line once (idempotent even across worker crashes) and its compensation appends an undo
 * line, and a step that fails on purpose settles ("settle <i>"), so a test (or an operator trying
 * the engine out) can count exactly what ran.
 */
export async function engineDrill(input: unknown): Promise<RunbookResult<{ log: string[] }>> {
  return Runbook.run(engineDrillDefinition, input, async (rb, i) => {
    const acts = rb.on<typeof activities>(i.host, { startToCloseTimeout: `${Math.ceil(i.stepSeconds) + 120} seconds` });
    for (let step = 1; step <= i.steps; step++) {
      const name = `step-${step}`;
      if (i.failAtStep === step) {
        await rb.mutate({
          name,
          host: i.host,
          description: `fail on purpose (failAtStep=${step})`,
          approval: i.gatedSteps.includes(name),
          plan: () => [sh`exit 3`.display],
          run: () => acts.drillFail(i.host, step),
          // An act cut short may leave something half done that no compensation covers.
          settle: {
            name: `settle-${name}`,
            host: i.host,
            description: `append "settle ${step}" to ${i.dir}/log once`,
            plan: () => [drillSettleCommand(i.dir, step).display],
            run: () => acts.drillSettle(i.host, i.dir, step),
          },
        });
        continue;
      }
      if (i.action === 'read-true') {
        const pause = i.stepSeconds > 0 ? [i.stepSeconds] : [];
        await rb.inspect({ name, host: i.host, description: 'run `true` (a quick read-only step)', quick: true, run: () => acts.drillTrue(i.host, ...pause) });
        continue;
      }
      if (i.action === 'true') {
        await rb.mutate({ name, host: i.host, description: 'run `true`', plan: () => ['true'], run: () => acts.drillTrue(i.host) });
        continue;
      }
      await rb.mutate({
        name,
        host: i.host,
        description: `append "do ${step}" to ${i.dir}/log once`,
        approval: i.gatedSteps.includes(name),
        plan: () => [drillDoCommand(i.dir, step, i.stepSeconds).display],
        run: () => acts.drillDo(i.host, i.dir, step, i.stepSeconds),
        compensate: () => ({
          description: `append "undo ${step}" and remove the step's marker`,
          run: () => acts.drillUndo(i.host, i.dir, step),
        }),
        summarize: (r) => r,
      });
    }
    // Steps side by side whose activities are scheduled after an await: each must still carry its own
    // step's tag (the engine's attempt context), which the engine tests check in the history.
    await Promise.all(
      Array.from({ length: i.parallelReads }, (_, k) =>
        rb.inspect({
          name: `parallel-read-${k + 1}`,
          host: i.host,
          description: 'read the log twice',
          run: async () => {
            const first = await acts.drillReadLog(i.host, i.dir);
            const second = await acts.drillReadLog(i.host, i.dir);
            return { value: second.value, commands: [...first.commands, ...second.commands] };
          },
        }),
      ),
    );
    const log = await rb.inspect({ name: 'read-log', host: i.host, run: () => acts.drillReadLog(i.host, i.dir) });
    return { log };
  });
}

import type * as activities from '../activities';
import type { HostFacts } from '../activities/facts/host-facts';
import { hostFactsDefinition } from '../runbooks/hostFacts/definition';
import { Runbook, type RunbookResult } from './engine/runbook';

/**
 * hostFacts: collect what a host is (hostname, kernel), what it mounts (df, findmnt) and its block and
 * loop devices (lsblk, losetup), parsed into typed records. Read-only; plan mode returns the same.
 */
export async function hostFacts(input: unknown): Promise<RunbookResult<{ hosts: HostFacts[] }>> {
  return Runbook.run(hostFactsDefinition, input, async (rb, { hosts }) => {
    const facts = await Promise.all(
      hosts.map((host) =>
        rb.inspect({
          name: 'collect-facts',
          host,
          description: 'hostname, kernel, df, findmnt, lsblk, losetup',
          // A few reads that take milliseconds: run on the workflow's worker, not through the server.
          quick: true,
          run: () => rb.on<typeof activities>(host).collectHostFacts(host),
          summarize: (f) => `${f.hostname}, kernel ${f.kernel}, ${f.mounts.length} mounts, ${f.loopDevices.length} loop devices`,
        }),
      ),
    );
    return { hosts: facts };
  });
}

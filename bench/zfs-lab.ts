import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { labDown, labUp } from '../lab/lab';
import { readManifest } from '../lab/manifest';
import { scenarioContext } from '../lab/scenario-context';
import { scenarios } from '../lab/scenarios';
import type { ScenarioContext } from '../lab/scenarios/types';
import { createZfsProjectsScenario } from '../lab/scenarios/zfs-projects';

/**
 * Three zfs-fuse lab hosts (compute1..3) in a lab folder of their own, for the ZFS benchmarks, so a
 * developer's lab and the test suite's are left alone. `base`: addresses 127.0.0.<base>..<base+2>.
 */
export async function startBenchLab(
  name: string,
  base: number,
  poolBytes = 16 * 2 ** 30,
): Promise<{ labDir: string; ctx: Record<string, ScenarioContext>; addresses: Record<string, string>; stop(): Promise<void> }> {
  const labDir = mkdtempSync(path.join(os.tmpdir(), `${name}-`));
  process.env.RUNBOOK_LAB_DIR = labDir;
  process.env.RUNBOOK_INVENTORY = path.join(labDir, 'inventory.json');
  const hosts = [1, 2, 3].map((n) => ({ name: `compute${n}`, address: `127.0.0.${base + n - 1}` }));
  scenarios[name] = createZfsProjectsScenario({ name, hosts, projects: null, poolBytes });
  await labUp({ scenarios: [name] });
  return {
    labDir,
    ctx: Object.fromEntries(hosts.map((h) => [h.name, scenarioContext(h.name, () => undefined)])),
    addresses: Object.fromEntries(hosts.map((h) => [h.name, h.address])),
    async stop() {
      if (readdirSync(path.join(labDir, 'hosts')).some((h) => readManifest(h))) await labDown();
      rmSync(labDir, { recursive: true, force: true });
    },
  };
}

export async function must(ctx: ScenarioContext, script: string): Promise<string> {
  const r = await ctx.exec(script, { timeoutMs: 60 * 60_000 });
  if (r.code !== 0) throw new Error(`${ctx.host}: ${script.slice(0, 300)}: exit ${r.code}: ${r.stderr.slice(-1000)}`);
  return r.stdout;
}

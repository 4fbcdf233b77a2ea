import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { propolisRequest } from '../../activities/propolis/http';
import { hostDir } from '../../lab/paths';
import { scenarioContext } from '../../lab/scenario-context';
import { CRUCIBLE_HOST } from '../../lab/scenarios/crucible';
import { PROPOLIS_SLEDS, propolisFaultsPath, seedBootRegions } from '../../lab/scenarios/propolis';
import type { RecordingCase } from './types';

// liveMigrate on the crucible + propolis lab: regions seeded from the OS image (once), no VM on
// either sled, then: the plan, a migration there, one whose destination dies mid-RamPush (fails,
// the VM stays on the source), one whose destination cannot reach a downstairs (recovered on the
// source), and one whose destination takes the disk over and then fails (recovered there).

const example = JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'runbooks', 'liveMigrate', 'examples', 'lab.json'), 'utf8')) as Record<string, unknown>;
const SCENARIOS = ['crucible', 'propolis'];

function faults(sled: string, f: Record<string, unknown>): void {
  const file = propolisFaultsPath(hostDir(sled));
  writeFileSync(`${file}.tmp`, JSON.stringify(f));
  renameSync(`${file}.tmp`, file);
}

async function clean(f: { source?: Record<string, unknown>; destination?: Record<string, unknown> } = {}): Promise<void> {
  await seedBootRegions(scenarioContext(CRUCIBLE_HOST.name, () => undefined));
  for (const s of PROPOLIS_SLEDS) {
    const r = await propolisRequest({ address: s.address, port: 12400 }, 'GET', '/instance');
    if (r.status === 200 && (r.body as { instance: { state: string } }).instance.state !== 'Destroyed') {
      await propolisRequest({ address: s.address, port: 12400 }, 'PUT', '/instance/state', 'Stop');
      for (let i = 0; i < 100; i++) {
        const m = await propolisRequest({ address: s.address, port: 12400 }, 'GET', '/instance/state-monitor', { gen: 0 });
        if ((m.body as { state: string }).state === 'Destroyed') break;
        await new Promise((res) => setTimeout(res, 50));
      }
    }
  }
  faults(PROPOLIS_SLEDS[0].name, f.source ?? {});
  faults(PROPOLIS_SLEDS[1].name, f.destination ?? {});
}

const vm = (uniq: string) => ({ ...(example.vm as object), name: `rec-${uniq.slice(-8)}` });

export const cases: RecordingCase[] = [
  { runbook: 'liveMigrate', name: 'plan', scenarios: SCENARIOS, prepare: () => clean(), input: () => ({ ...example, mode: 'plan' }), end: 'COMPLETED' },
  { runbook: 'liveMigrate', name: 'migrated', scenarios: SCENARIOS, prepare: () => clean(), input: (u) => ({ ...example, vm: vm(u) }), end: 'COMPLETED' },
  {
    runbook: 'liveMigrate',
    name: 'destination-died-mid-rampush',
    scenarios: SCENARIOS,
    prepare: () => clean({ source: { ramPushMs: 1500 }, destination: { dieDuringRamPush: true } }),
    input: (u) => ({ ...example, vm: vm(u) }),
    end: 'FAILED',
  },
  {
    runbook: 'liveMigrate',
    name: 'recovered-after-hung-activation',
    scenarios: SCENARIOS,
    prepare: () => clean({ destination: { blockTargets: [`${CRUCIBLE_HOST.address}:8830`] } }),
    input: (u) => ({ ...example, vm: vm(u), startTimeout: '3s', approve: ['migrate', 'recover'] }),
    end: 'COMPLETED',
  },
  {
    runbook: 'liveMigrate',
    name: 'recovered-on-destination-after-failing-activated',
    scenarios: SCENARIOS,
    prepare: () => clean({ destination: { failAfterActivating: true } }),
    input: (u) => ({ ...example, vm: vm(u), recoverOn: 'destination', approve: ['migrate', 'recover'] }),
    end: 'COMPLETED',
  },
];

import { baseScenario } from './base';
import { crucibleScenario } from './crucible';
import { propolisScenario } from './propolis';
import { readonlyDataScenario } from './readonly-data';
import { zfsProjectsScenario } from './zfs-projects';
import { maasScenario } from './maas';
import type { LabScenario } from './types';

// The scenario registry. To add a scenario: import its LabScenario below the base import, and put
// it in the list `all` (one import line and one list entry).
// Host names and addresses must be unique across scenarios (lab up checks), so several scenarios
// can be up at once: base uses 127.0.0.1x, readonly-data 127.0.0.2x, zfs-projects 127.0.0.3x, crucible 127.0.0.4x, propolis 127.0.0.5x.

const all: LabScenario[] = [
  baseScenario,
  // ── scenarios added by their owners, one line each ──
  readonlyDataScenario,
  zfsProjectsScenario,
  maasScenario,
  crucibleScenario,
  propolisScenario,
];

export const scenarios: Record<string, LabScenario> = Object.fromEntries(all.map((s) => [s.name, s]));

export function getScenario(name: string): LabScenario {
  const scenario = scenarios[name];
  if (!scenario) throw new Error(`there is no lab scenario "${name}"; known scenarios: ${Object.keys(scenarios).join(', ')}`);
  return scenario;
}

export type { CheckReport, LabScenario, ScenarioContext, ScenarioOptions } from './types';

import { CliError, EXIT } from '../exit-codes';
import type { Output } from './runs';

function log(o: Output) {
  return (line: string) => (o.json ? process.stderr.write(`${line}\n`) : o.out(line));
}

/** A scenario name the registry does not know is bad usage (exit 2), with the names it does know. */
async function requireScenarios(names: string[]): Promise<void> {
  const { scenarios } = await import('../../lab/scenarios');
  const unknown = names.filter((n) => !scenarios[n]);
  if (unknown.length) {
    throw new CliError(`unknown lab scenario${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}; known scenarios: ${Object.keys(scenarios).join(', ')}`, EXIT.usage);
  }
}

export async function labUpCommand(opts: { scenario?: string[]; fullSize?: boolean; rebuild?: boolean }, o: Output): Promise<number> {
  await requireScenarios(opts.scenario ?? []);
  const { labUp } = await import('../../lab/lab');
  const scenarios = ['base', ...(opts.scenario ?? [])];
  const r = await labUp({ scenarios: [...new Set(scenarios)], fullSize: opts.fullSize, rebuild: opts.rebuild, log: log(o) });
  if (o.json) o.out(JSON.stringify(r, null, 2));
  else {
    for (const h of r.hosts) o.out(`  ${h.name.padEnd(14)} ${h.address.padEnd(12)} ${h.running ? 'up' : 'DOWN'}  scenario ${h.scenario}`);
    o.out(`inventory: ${r.inventory} (${(r.elapsedMs / 1000).toFixed(1)} s)`);
  }
  return EXIT.ok;
}

export async function labDownCommand(o: Output): Promise<number> {
  const { labDown } = await import('../../lab/lab');
  await labDown({ log: log(o) });
  if (!o.json) o.out('lab is down');
  return EXIT.ok;
}

export async function labStatusCommand(o: Output): Promise<number> {
  const { labStatus } = await import('../../lab/lab');
  const hosts = labStatus();
  if (o.json) o.out(JSON.stringify(hosts, null, 2));
  else if (!hosts.length) o.out('the lab is down (runbook lab up)');
  else for (const h of hosts) o.out(`  ${h.name.padEnd(14)} ${h.address.padEnd(12)} ${h.running ? 'up' : 'DOWN'}  scenario ${h.scenario}`);
  return hosts.every((h) => h.running) ? EXIT.ok : EXIT.runFailed;
}

export async function labCheckCommand(scenario: string, o: Output): Promise<number> {
  await requireScenarios([scenario]);
  const { labCheck } = await import('../../lab/lab');
  const report = await labCheck(scenario, { log: log(o) });
  if (o.json) o.out(JSON.stringify(report, null, 2));
  else {
    for (const [host, r] of Object.entries(report.hosts)) for (const c of r.checks) o.out(`  ${c.ok ? '✔' : '✘'} ${host}: ${c.name}: ${c.detail}`);
    o.out(report.ok ? `${scenario}: healthy` : `${scenario}: NOT healthy`);
  }
  return report.ok ? EXIT.ok : EXIT.runFailed;
}

import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { buildPropolisEmulator } from '../../emulators/propolis';
import { shq } from '../../../activities/ssh/command';
import type { ScenarioContext } from '../types';
import { PROPOLIS_PORT, PROPOLIS_SLEDS, propolisFaultsPath, propolisLogPath } from './layout';

// A sled host: the propolis-server emulator bundled into the host's bin/, run by a supervisor that
// restarts it when it dies (a killed server comes back empty, as a restarted propolis-server does:
// no instance, 424). Lab down stops the supervisor and the server by pid.

async function waitForServer(address: string, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`http://${address}:${port}/instance`, { headers: { 'api-version': '5.0.0' }, signal: AbortSignal.timeout(1000) });
      if (res.status === 424 || res.status === 200) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`propolis build: the emulator on ${address}:${port} did not answer within ${timeoutMs} ms (${last})`);
}

export async function buildPropolisSled(ctx: ScenarioContext): Promise<void> {
  const sled = PROPOLIS_SLEDS.find((s) => s.name === ctx.host);
  if (!sled) throw new Error(`propolis build: ${ctx.host} is not one of this scenario's sleds`);
  const bin = path.join(ctx.hostDir, 'bin');
  const bundle = await buildPropolisEmulator(bin);
  const faults = propolisFaultsPath(ctx.hostDir);
  mkdirSync(path.dirname(faults), { recursive: true });
  writeFileSync(faults, '{}\n');
  const supervisor = path.join(bin, 'propolis-server-supervise');
  writeFileSync(
    supervisor,
    `#!/bin/sh
# The sled's propolis-server (lab emulator), restarted when it dies.
unset NODE_OPTIONS
while :; do
  ${shq(process.execPath)} ${shq(bundle)} --address ${sled.address} --port ${PROPOLIS_PORT} --faults ${shq(faults)}
  echo "propolis-server exited with $?; restarting" >&2
  sleep 0.2
done
`,
  );
  chmodSync(supervisor, 0o755);
  await ctx.spawn(`exec ${shq(supervisor)}`, { logFile: propolisLogPath(ctx.hostDir) });
  await waitForServer(sled.address, PROPOLIS_PORT, 20_000);
  ctx.log(`propolis-server emulator on ${sled.address}:${PROPOLIS_PORT}`);
}

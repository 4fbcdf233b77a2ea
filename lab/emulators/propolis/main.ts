import { startPropolisEmulator } from './server';

// `node propolis-emu.cjs --address 127.0.0.51 --port 12400 [--faults FILE]`: one emulated
// propolis-server, run by a lab sled host's supervisor.

function arg(name: string, fallback?: string): string {
  const i = process.argv.indexOf(`--${name}`);
  if (i >= 0 && process.argv[i + 1]) return process.argv[i + 1];
  if (fallback !== undefined) return fallback;
  process.stderr.write(`usage: propolis-emu --address IP [--port 12400] [--faults FILE]\n`);
  process.exit(2);
}

startPropolisEmulator({ address: arg('address'), port: Number(arg('port', '12400')), faultsFile: arg('faults', '') || null }).catch((err: unknown) => {
  process.stderr.write(`propolis-emu: ${(err as Error).message}\n`);
  process.exit(1);
});
process.on('SIGTERM', () => process.exit(0));

import { createServer } from './server';

// `tsx lab/emulators/maas/main.ts <state-dir> <address> [port]`: the MAAS region API emulator. The
// maas lab scenario starts it (lab down stops it by pid); its state lives in <state-dir>.

const [dir, address, port = '5240'] = process.argv.slice(2);
if (!dir || !address) {
  console.error('usage: main.ts <state-dir> <address> [port]');
  process.exit(2);
}
const server = createServer(dir);
server.listen(Number(port), address, () => {
  console.log(`MAAS region API emulator on http://${address}:${port}/MAAS/api/2.0/ (state ${dir})`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));

import { writeFileSync } from 'node:fs';
import { readmeStates } from './input-docs';

// npx tsx scripts/docs.ts          rewrite the input table in every runbook's README (runbooks/<name>/README.md)
// npx tsx scripts/docs.ts --check  exit 1, naming them, if any README's table is stale (what the test checks)

const check = process.argv.includes('--check');
const stale = readmeStates().filter((s) => s.current !== s.wanted);
for (const s of stale) {
  if (check) console.log(`stale: ${s.file}`);
  else {
    writeFileSync(s.file, s.wanted);
    console.log(`wrote ${s.file}`);
  }
}
if (check && stale.length) {
  console.log('run `npx tsx scripts/docs.ts` to regenerate the input tables');
  process.exit(1);
}
if (!stale.length) console.log('every runbook README has an up-to-date input table');

// Splits the suite across `jest --shard=i/n` runs (scripts/test-shards.sh), each in its own network
// namespace with its own dev server and lab. Files that build the same lab scenario go to the same
// shard: a scenario's hosts use fixed addresses and real paths (/media, /pool) that two labs
// would share. Families are balanced by their measured runtime (a clean checkout has no timing
// cache), longest first; the order within a shard is jest's usual one.
const path = require('node:path');
const Sequencer = require('@jest/test-sequencer').default;

// Seconds each file took in a quiet run of the whole suite; an unlisted file counts as 5 s.
const SECONDS = {
  'fix-readonly-data-crash': 200,
  'maas-repartition': 165,
  'seed-regions': 105,
  'live-migrate': 130,
  'sled-chain': 25,
  'replicate-sweep': 100,
  'replicate-stream-faults': 65,
  'fix-readonly-data-faults': 63,
  'move-project': 43,
  'worker-crash': 35,
  cli: 34,
  'replicate-project': 28,
  schedule: 25,
  replay: 22,
  'auto-grow-guard': 20,
  'maas-emulator': 20,
  'maas-repartition-input': 15,
  'fix-readonly-data': 18,
  'zfs-lab': 18,
  'readonly-data-scenario': 17,
  'ui-browser': 15,
  engine: 14,
  'server-crash': 22,
  ssh: 12,
  retro: 11,
  'lvm-emulator': 9,
  'seed-regions-decide': 1,
};

const FAMILIES = [
  { name: 'readonly-data', files: /^(fix-readonly-data(-crash|-faults)?|readonly-data-scenario|auto-grow-guard)$/ },
  { name: 'zfs-projects', files: /^(replicate-(project|sweep|stream-faults)|move-project|zfs-lab|schedule)$/ },
  // One family for the storage sled's chain: sled-chain builds the maas and propolis scenarios in one
  // lab (maasRepartition → seedRegions → liveMigrate on proper-raptor), live-migrate and seed-regions
  // the crucible scenario with the propolis sleds, the maas files proper-raptor alone.
  { name: 'maas+crucible+propolis', files: /^(maas-emulator|maas-repartition(-input)?|seed-regions|live-migrate|propolis-emulator|sled-chain)$/ },
];

const base = (test) => path.basename(test.path).replace(/\.test\.ts$/, '');
const family = (test) => FAMILIES.find((f) => f.files.test(base(test)))?.name ?? `file:${test.path}`;

class ShardSequencer extends Sequencer {
  shard(tests, { shardIndex, shardCount }) {
    const groups = new Map();
    for (const t of tests) {
      const g = groups.get(family(t)) ?? { tests: [], seconds: 0 };
      g.tests.push(t);
      g.seconds += SECONDS[base(t)] ?? 5;
      groups.set(family(t), g);
    }
    const shards = Array.from({ length: shardCount }, () => ({ tests: [], seconds: 0 }));
    const byWeight = [...groups.entries()].sort(([a, x], [b, y]) => y.seconds - x.seconds || (a < b ? -1 : 1));
    for (const [, g] of byWeight) {
      const lightest = shards.reduce((m, s) => (s.seconds < m.seconds ? s : m));
      lightest.tests.push(...g.tests);
      lightest.seconds += g.seconds;
    }
    return shards[shardIndex - 1].tests;
  }
}

module.exports = ShardSequencer;

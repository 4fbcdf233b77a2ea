/**
 * Tests talk to the real Temporal server and real sshd lab hosts, so they run in band. Two projects:
 * `engine` (test/engine-tier: the engine's semantics on stand-in activities, the dev server and no lab;
 * `npm run test:engine`) and `suite` (everything else; its global setup starts the lab and a worker,
 * and jest runs it only when a test of the suite is selected).
 */
const common = {
  testEnvironment: 'node',
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' } }] },
};

module.exports = {
  verbose: true,
  // The failing tests again at the end, however few files ran (scripts/test-shards.sh prints that part).
  reporters: [['default', { summaryThreshold: 0 }]],
  // A global option (jest ignores it in a project); the engine tier sets its own, shorter one.
  testTimeout: 180_000,
  // A test that times out leaves its awaits running (jest cannot cancel them), which would keep jest
  // alive after the run, past CI's limit, with the results already printed. Exit when the run ends;
  // the exit code is still the run's.
  forceExit: true,
  // `jest --shard=i/n` (scripts/test-shards.sh) keeps each lab scenario's files in one shard.
  testSequencer: '<rootDir>/test/shard-sequencer.js',
  projects: [
    { ...common, displayName: 'engine', roots: ['<rootDir>/test/engine-tier'] },
    {
      ...common,
      displayName: 'suite',
      roots: ['<rootDir>/test'],
      testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/engine-tier/'],
      globalSetup: '<rootDir>/test/global-setup.ts',
      globalTeardown: '<rootDir>/test/global-teardown.ts',
    },
  ],
};

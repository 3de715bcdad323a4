import { defineConfig } from 'vitest/config';

/**
 * The narrow test selection `npm run mutate` gives Stryker for one group of mutated files (scripts/mutate.mjs
 * sets KVFLOW_MUTATE_TESTS): fast, exact tests of that code, not the whole suite.
 */
const tests = (process.env.KVFLOW_MUTATE_TESTS ?? '').split(',').filter(Boolean);

export default defineConfig({
  test: {
    include: tests.length > 0 ? tests : ['test/**/*.test.ts'],
    // hang-watchdog.ts: a test far past its first-run time fails in seconds, even in a loop that never ends.
    setupFiles: ['test/setup/fast-check-seed.ts', 'test/setup/hang-watchdog.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});

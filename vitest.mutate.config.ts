import { relative } from 'node:path';
import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The narrow test selection `npm run mutate` gives Stryker for one group of mutated files (scripts/mutate.mjs
 * sets KVFLOW_MUTATE_TESTS): fast, exact tests of that code, not the whole suite.
 */
const tests = (process.env.KVFLOW_MUTATE_TESTS ?? '').split(',').filter(Boolean);

/**
 * Files that failed in the last run first (the file that killed one mutant often kills the next), then the
 * cheapest: Stryker runs one file at a time and stops at the first failure, so a mutant that a fast exact test
 * kills should not wait for a file that replays a trace (vitest's own order is the longest file first, right
 * for spreading files over workers). The order changes no verdict, only how soon it comes.
 */
class CheapestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const cache = this.ctx.cache;
    const state = (spec: TestSpecification) => cache.getFileTestResults(`${spec.project.name}:${relative(this.ctx.config.root, spec.moduleId)}`);
    return [...files].sort((a, b) => {
      const stateA = state(a);
      const stateB = state(b);
      const failed = Number(stateB?.failed ?? false) - Number(stateA?.failed ?? false);
      if (failed !== 0) return failed;
      return (stateA?.duration ?? 0) - (stateB?.duration ?? 0);
    });
  }
}

export default defineConfig({
  test: {
    include: tests.length > 0 ? tests : ['test/**/*.test.ts'],
    // hang-watchdog.ts: a test far past its first-run time fails in seconds, even in a loop that never ends.
    setupFiles: ['test/setup/fast-check-seed.ts', 'test/setup/hang-watchdog.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    sequence: { sequencer: CheapestFirst },
  },
});

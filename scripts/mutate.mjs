#!/usr/bin/env node
/**
 * `npm run mutate`: Stryker mutation testing of the cache, the step graph, the prefetcher, the engine
 * model and gateway routing. Each group of mutated files runs against its own narrow set of tests
 * (Stryker then narrows further per mutant by per-test coverage), and incremental mode reuses results
 * of unchanged code and tests from reports/stryker-incremental-<group>.json. Prints the score per folder.
 *
 *   npm run mutate                 all groups
 *   npm run mutate -- cache sim    only these groups
 */
import { dirname } from 'node:path';
import { Stryker } from '@stryker-mutator/core';

const GROUPS = {
  cache: {
    mutate: ['src/cache/**/*.ts'],
    tests: ['test/tiered-cache.test.ts', 'test/cache.test.ts', 'test/sim-exact.test.ts', 'test/prefetcher.test.ts'],
  },
  graph: {
    mutate: ['src/graph/**/*.ts'],
    tests: ['test/graph.test.ts', 'test/learner.test.ts'],
  },
  prefetcher: {
    mutate: ['src/sim/prefetcher.ts'],
    tests: ['test/prefetcher.test.ts', 'test/sim-exact.test.ts'],
  },
  replica: {
    mutate: ['src/sim/replica.ts'],
    tests: ['test/sim-exact.test.ts', 'test/replica-abort.test.ts', 'test/prefetcher.test.ts'],
  },
  routing: {
    mutate: ['src/serve/gateway/routing.ts', 'src/sim/router.ts'],
    tests: ['test/routing.test.ts'],
  },
};

const wanted = process.argv.slice(2);
for (const name of wanted) {
  if (!(name in GROUPS)) {
    console.error(`mutate: unknown group "${name}" (groups: ${Object.keys(GROUPS).join(', ')})`);
    process.exit(2);
  }
}
const groups = wanted.length > 0 ? wanted : Object.keys(GROUPS);

/** The rows of the score table: the folders and files the issue names. */
function reportRow(file) {
  if (file === 'src/serve/gateway/routing.ts' || file === 'src/sim/router.ts') return 'routing (serve/gateway/routing.ts, sim/router.ts)';
  if (file.startsWith('src/sim/')) return file;
  return `${dirname(file)}/`;
}

// Properties run at a quarter of their runs per mutant (test/helpers/runs.ts); the exact tests do most killing.
process.env.KVFLOW_FC_SCALE ??= '0.25';

const DETECTED = new Set(['Killed', 'Timeout']);
const VALID = new Set(['Killed', 'Timeout', 'Survived', 'NoCoverage']);
const perFolder = new Map();
const started = Date.now();

for (const name of groups) {
  const group = GROUPS[name];
  process.env.KVFLOW_MUTATE_TESTS = group.tests.join(',');
  const results = await new Stryker({
    testRunner: 'vitest',
    vitest: { configFile: 'vitest.mutate.config.ts', related: false },
    plugins: ['@stryker-mutator/vitest-runner'],
    mutate: group.mutate,
    coverageAnalysis: 'perTest',
    ignoreStatic: true,
    incremental: true,
    incrementalFile: `reports/stryker-incremental-${name}.json`,
    concurrency: 2,
    timeoutMS: 5_000,
    reporters: ['clear-text', 'progress', 'html'],
    htmlReporter: { fileName: `reports/mutation/${name}.html` },
    clearTextReporter: { reportTests: false, reportMutants: true, logTests: false },
    thresholds: { high: 90, low: 80, break: null },
    tempDirName: '.stryker-tmp',
    cleanTempDir: 'always',
  }).runMutationTest();
  for (const result of results) {
    if (!VALID.has(result.status)) continue;
    const key = reportRow(result.fileName.slice(result.fileName.lastIndexOf('src/')));
    const row = perFolder.get(key) ?? { detected: 0, total: 0, survived: 0, noCoverage: 0 };
    row.total++;
    if (DETECTED.has(result.status)) row.detected++;
    if (result.status === 'Survived') row.survived++;
    if (result.status === 'NoCoverage') row.noCoverage++;
    perFolder.set(key, row);
  }
}

console.log(`\nMutation score per folder (${((Date.now() - started) / 60_000).toFixed(1)} min):`);
console.log('| code | score | detected | survived | no coverage |');
console.log('| --- | ---: | ---: | ---: | ---: |');
let below = false;
for (const [key, row] of [...perFolder].sort()) {
  const score = (100 * row.detected) / row.total;
  if (score < 80) below = true;
  console.log(`| ${key} | ${score.toFixed(1)}% | ${row.detected} | ${row.survived} | ${row.noCoverage} |`);
}
if (below) console.log('\nBelow 80% somewhere: see the survivors above and docs/mutation.md.');

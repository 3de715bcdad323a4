#!/usr/bin/env node
/**
 * `npm run mutate`: Stryker mutation testing of the cache, the step graph, the prefetcher, the engine
 * model and gateway routing. Each group of mutated files runs against its own narrow set of tests
 * (Stryker then narrows further per mutant by per-test coverage). Prints the score per folder.
 *
 * Incremental by default: the results of the last run are committed, gzipped, in
 * test/mutation/<group>.incremental.json.gz, and Stryker re-tests only the mutants whose code or covering
 * tests changed since (a whole run from scratch takes about an hour on two cores: docs/mutation.md). Each
 * run writes its results back there, so committing that file with a change keeps the baseline current.
 *
 * One Stryker worker per core (KVFLOW_MUTATE_CONCURRENCY=1 leaves a core free on a shared machine), lowered
 * CPU priority (nice 10, inherited by the workers), a 2 s timeout margin (KVFLOW_MUTATE_TIMEOUT_MS), fast-check
 * without shrinking (a failing property only has to fail, not explain itself), and one group at a time.
 *
 *   npm run mutate                                  all groups, re-testing what changed
 *   npm run mutate -- cache routing                 only these groups
 *   npm run mutate -- --from-scratch                every mutant again, ignoring the committed results
 *   npm run mutate -- replica --only src/sim/replica.ts:180-200
 *                                                   only these lines (results kept in a separate
 *                                                   incremental file, so the group's file stays whole)
 */
import { availableParallelism, getPriority, setPriority } from 'node:os';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { gunzipSync, gzipSync } from 'node:zlib';
import { dirname, resolve } from 'node:path';
import { Stryker } from '@stryker-mutator/core';

const GROUPS = {
  cache: {
    // The learned-STE forecast is mutated with the step graph, whose tests exercise it; the learned reuse
    // model (src/cache/reuse/) is its own group, since its tests replay a real trace.
    mutate: ['src/cache/**/*.ts', 'src/prefix-interner.ts', '!src/cache/learned-ste/**', '!src/cache/reuse/**', '!src/cache/index.ts'],
    tests: ['test/cache/tiered-cache.test.ts', 'test/cache/cache.test.ts', 'test/cache/ste-policy.test.ts', 'test/cache/ste-policy-clocked.test.ts', 'test/sim/sim-exact.test.ts', 'test/sim/prefetcher.test.ts', 'test/prefix-interner.test.ts', 'test/cache/policy-duel.test.ts', 'test/cache/policy-registry.test.ts', 'test/cache/indexed-heap.test.ts', 'test/cache/radix-cache-edges.test.ts', 'test/cache/radix-cache-records.test.ts', 'test/cache/prompt-admission.test.ts', 'test/cache/request-hooks.test.ts', 'test/cache/policy-context.test.ts', 'test/cache/radix-insert-lock.test.ts', 'test/cache/radix-only-children.test.ts', 'test/cache/string-ids.test.ts', 'test/graph/ste-clock.test.ts'],
  },
  graph: {
    mutate: ['src/graph/**/*.ts', 'src/cache/learned-ste/**/*.ts', '!src/graph/index.ts'],
    tests: ['test/graph/workflow-ste.test.ts', 'test/graph/ste-clock.test.ts', 'test/graph/in-place-end.test.ts', 'test/graph/walk-step.test.ts', 'test/graph/search-lists.test.ts', 'test/cache/learned-ste-policy.test.ts', 'test/cache/reuse-forecast.test.ts', 'test/graph/graph.test.ts', 'test/graph/learner.test.ts', 'test/graph/relax.test.ts', 'test/graph/learner-sessions.test.ts', 'test/graph/prefix-signatures.test.ts', 'test/graph/agent-annotator.test.ts', 'test/graph/graph-building.test.ts', 'test/graph/ste-requests.test.ts', 'test/graph/learner-exact.test.ts', 'test/graph/progress-exact.test.ts', 'test/graph/walk-shift-exact.test.ts', 'test/graph/tracker-exact.test.ts', 'test/cache/learned-ste-exact.test.ts', 'test/graph/workflow-ste-clock.test.ts', 'test/graph/tracker-shift-exact.test.ts', 'test/graph/end-and-bounds-exact.test.ts', 'test/graph/workflow-ste-keys.test.ts', 'test/graph/workflow-ste-finish.test.ts', 'test/graph/tracker-counts.test.ts'],
  },
  prefetcher: {
    mutate: ['src/sim/prefetcher.ts'],
    tests: ['test/sim/prefetcher.test.ts', 'test/sim/prefetcher-model.test.ts', 'test/sim/sim-exact.test.ts'],
  },
  replica: {
    mutate: ['src/sim/replica.ts'],
    tests: ['test/sim/replica.test.ts', 'test/sim/replica-repeat.test.ts', 'test/sim/engine-profile.test.ts', 'test/sim/replica-signals.test.ts', 'test/sim/replica-abort.test.ts', 'test/sim/sim-exact.test.ts', 'test/sim/replica-preempt.test.ts', 'test/sim/replica-node-eviction.test.ts', 'test/sim/replica-lpm.test.ts', 'test/sim/replica-hooks.test.ts', 'test/sim/replica-edges.test.ts', 'test/sim/replica-judged.test.ts'],
  },
  reuse: {
    mutate: ['src/cache/reuse/**/*.ts'],
    tests: ['test/cache/reuse-policy.test.ts', 'test/cache/reuse-logistic.test.ts', 'test/cache/reuse-conversation.test.ts', 'test/cache/reuse-features.test.ts', 'test/cache/prefix-history.test.ts', 'test/cache/reuse-samples.test.ts', 'test/cache/reuse-model.test.ts', 'test/cache/reuse-learner.test.ts', 'test/cache/reuse-learner-edges.test.ts', 'test/cache/reuse-order.test.ts'],
  },
  routing: {
    mutate: ['src/sim/cache-aware-routing.ts', 'src/sim/router.ts'],
    tests: ['test/sim/routing.test.ts'],
  },
};

const args = process.argv.slice(2);
const fromScratchAt = args.indexOf('--from-scratch');
const fromScratch = fromScratchAt >= 0;
if (fromScratch) args.splice(fromScratchAt, 1);
const onlyAt = args.indexOf('--only');
const only = onlyAt >= 0 ? args.splice(onlyAt, 2)[1] : undefined;
if (onlyAt >= 0 && !only) {
  console.error('mutate: --only needs a file pattern, e.g. --only src/sim/replica.ts:180-200');
  process.exit(2);
}
const wanted = args;
for (const name of wanted) {
  if (name.startsWith('-')) {
    console.error(`mutate: unknown flag "${name}" (flags: --from-scratch, --only <file[:lines]>)`);
    process.exit(2);
  }
  if (!(name in GROUPS)) {
    console.error(`mutate: unknown group "${name}" (groups: ${Object.keys(GROUPS).join(', ')})`);
    process.exit(2);
  }
}
const groups = wanted.length > 0 ? wanted : Object.keys(GROUPS);
if (only && groups.length !== 1) {
  console.error('mutate: --only needs exactly one group (its tests run)');
  process.exit(2);
}
const concurrency = positiveInteger('KVFLOW_MUTATE_CONCURRENCY', availableParallelism());
// Stryker's margin over a mutant's expected test time. Most timeouts here are mutants that loop forever
// outside the code whose hits Stryker counts; each one holds a worker for the whole margin, so the margin
// is most of what ~170 timeouts cost. Stryker adds it to 1.5x the covering tests' own time in the first run,
// so a slow test keeps its room; a loaded machine can still push a mutant past it (re-check timeouts there).
const timeoutMS = positiveInteger('KVFLOW_MUTATE_TIMEOUT_MS', 2_000);

function positiveInteger(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) {
    console.error(`mutate: ${name} must be a positive integer, got "${raw}"`);
    process.exit(2);
  }
  return value;
}
try {
  setPriority(Math.max(10, getPriority()));
} catch {
  // Not permitted here: run at the normal priority.
}

/** Where a group's results are committed (gzipped Stryker incremental report). */
const baselineOf = (name) => `test/mutation/${name}.incremental.json.gz`;

/**
 * Puts the committed results of group `name` where Stryker's incremental mode reads them, replacing any
 * local copy: the committed file is the one that matches the checked-out code.
 */
function seedIncremental(name, incrementalFile) {
  rmSync(incrementalFile, { force: true });
  if (fromScratch || !existsSync(baselineOf(name))) return;
  mkdirSync(dirname(incrementalFile), { recursive: true });
  writeFileSync(incrementalFile, gunzipSync(readFileSync(baselineOf(name))));
}

/** Writes this run's results back as the group's committed baseline (without this checkout's path). */
function saveIncremental(name, incrementalFile) {
  if (!existsSync(incrementalFile)) return;
  const report = JSON.parse(readFileSync(incrementalFile, 'utf8'));
  delete report.projectRoot;
  mkdirSync(dirname(baselineOf(name)), { recursive: true });
  writeFileSync(baselineOf(name), gzipSync(JSON.stringify(report), { level: 9 }));
}

/** The rows of the score table: the folders and files the issue names. */
function reportRow(file) {
  if (file === 'src/sim/cache-aware-routing.ts' || file === 'src/sim/router.ts') return 'routing (sim/cache-aware-routing.ts, sim/router.ts)';
  if (file.startsWith('src/sim/')) return file;
  return `${dirname(file)}/`;
}

// Stryker runs the tests in a sandbox copy (.stryker-tmp/sandbox-*), where the relative ../shared/traces of
// test/helpers/requirements.ts does not exist: name the real traces by absolute path, and fail (CI's rule) rather
// than let trace tests skip and their code count as uncovered.
process.env.KVFLOW_TRACES_DIR ??= resolve('../shared/traces');
process.env.CI ??= 'true';
if (!existsSync(process.env.KVFLOW_TRACES_DIR)) {
  console.error(`mutate: the real traces are not at ${process.env.KVFLOW_TRACES_DIR} (../shared/traces beside the repository, or set KVFLOW_TRACES_DIR)`);
  process.exit(2);
}

// Properties run at a quarter of their runs per mutant (test/helpers/runs.ts); the exact tests do most killing.
process.env.KVFLOW_FC_SCALE ??= '0.25';
// test/setup/fast-check-seed.ts: stop a failing property at its first counterexample (no shrinking).
process.env.KVFLOW_MUTATE = '1';

const DETECTED = new Set(['Killed', 'Timeout']);
const VALID = new Set(['Killed', 'Timeout', 'Survived', 'NoCoverage']);
const perFolder = new Map();
const started = Date.now();

for (const name of groups) {
  const group = GROUPS[name];
  process.env.KVFLOW_MUTATE_TESTS = group.tests.join(',');
  // test/setup/hang-watchdog.ts: each test's time in Stryker's first run, the budget of that test per mutant.
  const durations = resolve(`reports/test-durations-${name}${only ? '-only' : ''}.jsonl`);
  rmSync(durations, { force: true });
  mkdirSync(dirname(durations), { recursive: true }); // a fresh clone has no reports/ yet
  process.env.KVFLOW_MUTATE_DURATIONS = durations;
  const incrementalFile = only ? `reports/stryker-incremental-${name}-only.json` : `reports/stryker-incremental-${name}.json`;
  if (!only) seedIncremental(name, incrementalFile);
  const groupStarted = Date.now();
  const results = await new Stryker({
    testRunner: 'vitest',
    vitest: { configFile: 'vitest.mutate.config.ts', related: false },
    plugins: ['@stryker-mutator/vitest-runner'],
    mutate: only ? [only] : group.mutate,
    coverageAnalysis: 'perTest',
    ignoreStatic: true,
    incremental: true,
    incrementalFile,
    concurrency,
    timeoutMS,
    reporters: ['clear-text', 'progress', 'html', 'json'],
    htmlReporter: { fileName: `reports/mutation/${name}.html` },
    jsonReporter: { fileName: `reports/mutation/${name}.json` },
    clearTextReporter: { reportTests: false, reportMutants: true, logTests: false },
    thresholds: { high: 90, low: 80, break: null },
    tempDirName: '.stryker-tmp',
    cleanTempDir: 'always',
  }).runMutationTest();
  if (!only) saveIncremental(name, incrementalFile);
  console.log(`mutate: group ${name}, ${results.length} mutants, ${((Date.now() - groupStarted) / 60_000).toFixed(1)} min`);
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

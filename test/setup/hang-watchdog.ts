/**
 * Under `npm run mutate` only (vitest.mutate.config.ts): ends a test that runs far past its time in Stryker's
 * first run, even when a mutant has put it in a synchronous loop that never ends.
 *
 * Without this, Stryker waits 1.5x the covering tests' time, plus its margin, plus the start-up overhead of the
 * group's first run, and then replaces the whole worker: about a quarter of a run went to such hangs
 * (docs/mutation.md). Here a watchdog thread watches the test process's main thread; when the running test is
 * past its budget it fails the test through its abort signal, and when the main thread has stopped answering
 * (a synchronous loop) it first ends that loop with the inspector's `Runtime.terminateExecution`, after which
 * the event loop goes on. The mutant counts as killed by the test that hung, in seconds.
 *
 * Budgets come from Stryker's first run (no mutant active): each test's duration is recorded in the file named
 * by KVFLOW_MUTATE_DURATIONS; a test's budget is 2 s + 10x its duration (Stryker's own wait is 1.5x the
 * covering tests' time + 2 s + the first run's start-up overhead, 7-37 s here, for all of them together). A test without a recorded
 * duration gets no budget (Stryker's own timeout still applies).
 */
import { appendFileSync, readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { afterAll, afterEach, beforeEach, inject } from 'vitest';

// 1 s + 3x measured false kills on ste-policy.ts (mutants that only slow a test down); 2 s + 10x matched
// Stryker's own verdicts there exactly.
const BUDGET_BASE_MS = 2_000;
const BUDGET_FACTOR = 10;
/** The main thread counts as stuck when it has not ticked for this long. */
const STUCK_MS = 300;
const TICK_MS = 50;

const durationsFile = process.env.KVFLOW_MUTATE_DURATIONS;
// Stryker's vitest runner provides 'mode' ('dry-run' or 'mutant'); outside Stryker there is none.
const mode = durationsFile ? (inject as (key: string) => unknown)('mode') : undefined;

const keyOf = (task: { file?: { name: string }; name: string; suite?: { name: string; suite?: unknown } }): string => {
  const names = [task.name];
  for (let suite = task.suite as { name: string; suite?: unknown } | undefined; suite; suite = suite.suite as typeof suite) {
    if (suite.name) names.unshift(suite.name);
  }
  return `${task.file?.name ?? ''}#${names.join(' > ')}`;
};

if (durationsFile && mode === 'dry-run') {
  // One line per test (JSON), appended: the first run goes file by file in one worker. The result's own
  // duration is not set yet when afterEach runs, so the test is timed here.
  let started = 0;
  beforeEach(() => {
    started = performance.now();
  });
  afterEach(({ task }) => {
    appendFileSync(durationsFile, `${JSON.stringify([keyOf(task), performance.now() - started])}\n`);
  });
}

if (durationsFile && mode === 'mutant') {
  const budgets = new Map<string, number>();
  try {
    for (const line of readFileSync(durationsFile, 'utf8').split('\n')) {
      if (!line) continue;
      const [key, duration] = JSON.parse(line) as [string, number];
      budgets.set(key, BUDGET_BASE_MS + BUDGET_FACTOR * duration);
    }
  } catch {
    // No first-run durations: no budgets, Stryker's timeout alone.
  }

  // [0] deadline of the running test (epoch ms, 0 when none), [1] the main thread's last tick,
  // [2] set by the watchdog when it ended a synchronous loop.
  const shared = new Float64Array(new SharedArrayBuffer(3 * Float64Array.BYTES_PER_ELEMENT));
  const watchdog = new Worker(
    `const { workerData } = require('node:worker_threads');
     const inspector = require('node:inspector');
     const shared = new Float64Array(workerData);
     const session = new inspector.Session();
     session.connectToMainThread();
     setInterval(() => {
       const now = Date.now();
       if (shared[0] > 0 && now > shared[0] && now - shared[1] > ${STUCK_MS} && shared[2] === 0) {
         shared[2] = 1;
         session.post('Runtime.terminateExecution');
       }
     }, ${TICK_MS});`,
    { eval: true, workerData: shared.buffer },
  );
  watchdog.unref();

  let running: { signal: AbortSignal; key: string } | undefined;
  const ticker = setInterval(() => {
    shared[1] = Date.now();
    const deadline = shared[0]!;
    if (!running || deadline === 0 || Date.now() <= deadline) return;
    // Past its budget: fail the test now (withCancel in vitest's runner rejects on the signal's abort event).
    const { signal, key } = running;
    running = undefined;
    shared[0] = 0;
    process.stderr.write(`hang-watchdog: ${key} ran past its budget${shared[2] === 1 ? ' in a synchronous loop' : ''}\n`);
    signal.dispatchEvent(new Event('abort'));
  }, TICK_MS);
  ticker.unref();

  beforeEach(({ task, signal }) => {
    const key = keyOf(task);
    const budget = budgets.get(key);
    shared[2] = 0;
    shared[1] = Date.now();
    if (budget === undefined) return;
    running = { signal, key };
    shared[0] = Date.now() + budget;
  });
  afterEach(() => {
    running = undefined;
    shared[0] = 0;
  });
  afterAll(async () => {
    clearInterval(ticker);
    await watchdog.terminate();
  });
}

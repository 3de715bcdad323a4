/**
 * One fast-check seed for the whole suite, so a failing property fails the same way on every machine and
 * every run. KVFLOW_SEED overrides it (to replay a seed printed by a failure, or to explore another).
 */
import fc from 'fast-check';
import { afterEach } from 'vitest';
import { runs } from '../helpers/runs.js';

const DEFAULT_SEED = 20261201;

function seedFromEnv(): number {
  const raw = process.env.KVFLOW_SEED;
  if (raw === undefined || raw === '') return DEFAULT_SEED;
  const seed = Number(raw);
  if (!Number.isSafeInteger(seed)) throw new Error(`KVFLOW_SEED must be an integer, got "${raw}"`);
  return seed;
}

const seed = seedFromEnv();
// Under `npm run mutate` a property only has to fail: shrinking the counterexample would cost most of the run.
fc.configureGlobal({ seed, numRuns: runs(100), ...(process.env.KVFLOW_MUTATE === '1' && { endOnFailure: true }) });

afterEach((context) => {
  const errors = context.task.result?.errors ?? [];
  if (errors.some((e) => /Property failed/.test(String(e?.message)))) {
    console.error(`fast-check seed ${seed}: rerun with KVFLOW_SEED=${seed} to reproduce (${context.task.name})`);
  }
});

/** A few hundred fuzz cases on every `npm test`; `npm run fuzz` runs 10,000 (bench/robustness/fuzz.ts). */
import { describe, expect, it } from 'vitest';
import { runFuzz } from '../../bench/robustness/fuzz-harness.js';
import { CLI } from '../helpers/cli.js';
import { REPO } from '../helpers/sim.js';

describe('fuzzed input against the servers, the readers and the CLI', () => {
  it('keeps every contract: status and OpenAI-shaped errors, InputError naming the file, exit codes without stacks', async () => {
    const seed = Number(process.env.KVFLOW_SEED ?? 20261201);
    const report = await runFuzz({ cases: 300, seed, cli: { path: CLI, cwd: REPO }, cliEvery: 15 });
    expect(report.violations, `seed ${seed}`).toEqual([]);
    expect(report.http.cases + report.files.cases).toBe(300);
    expect(report.cli.cases).toBeGreaterThan(0);
  }, 240_000);
});

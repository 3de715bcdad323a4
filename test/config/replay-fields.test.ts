/** `kvflow replay`'s run flags and a replay sweep grid's fields come from one table (src/config/replay-fields.ts). */
import { Command } from 'commander';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPLAY_FIELDS } from '../../src/config/replay-fields.js';
import { registerReplay } from '../../src/cli/replay.js';
import { parseSweepGrid } from '../../src/sweep/sweep-grid.js';
import { REPO } from '../helpers/sim.js';
import { expectJsonDocument, kvflow } from '../helpers/cli.js';
import { runSweepPoint } from '../../src/sweep/sweep-point.js';

const TRACE = 'workloads/traces/mooncake_conversation.excerpt.jsonl';

const SAMPLES: Record<keyof typeof REPLAY_FIELDS, { flag: string[]; grid: unknown }> = {
  trace: { flag: [], grid: TRACE },
  format: { flag: ['--format', 'mooncake'], grid: 'mooncake' },
  blockSize: { flag: ['--block-size', '32'], grid: 32 },
  capacity: { flag: ['--capacity', '64k,inf'], grid: ['64k', 'inf'] },
  policy: { flag: ['--policy', 'lru,ste'], grid: ['lru', 'ste'] },
  workflow: { flag: ['--workflow', 'workloads/sequential-10.json'], grid: 'workloads/sequential-10.json' },
  graph: { flag: ['--graph', 'learned'], grid: 'learned' },
  skipInvalid: { flag: ['--skip-invalid'], grid: true },
  tokenizer: { flag: ['--tokenizer', 'cl100k_base'], grid: 'cl100k_base' },
  sessionsStart: { flag: ['--sessions-start', 'poisson:2'], grid: 'poisson:2' },
  seed: { flag: ['--seed', '7'], grid: 7 },
};

async function replayFlags(args: string[]): Promise<Record<string, unknown>> {
  const program = new Command().exitOverride();
  registerReplay(program);
  let flags: Record<string, unknown> = {};
  program.commands[0]!.exitOverride().action((parsed: Record<string, unknown>) => {
    flags = parsed;
  });
  await program.parseAsync(['replay', '--trace', TRACE, ...args], { from: 'user' });
  return flags;
}

describe('replay flags and sweep-grid fields', () => {
  it('every field is a replay flag and a grid field with the same value, and the same defaults', async () => {
    for (const [name, sample] of Object.entries(SAMPLES)) {
      const fromFlag = (await replayFlags(sample.flag))[name];
      const grid = parseSweepGrid({ name: 't', kind: 'replay', base: { trace: TRACE, [name]: sample.grid } }, join(REPO, 'grid.json'));
      expect(grid.runs[0]!.config[name as keyof typeof SAMPLES], name).toEqual(fromFlag);
    }
    const defaults = await replayFlags([]);
    expect(defaults.capacity).toEqual(REPLAY_FIELDS.capacity.default);
    expect(defaults.policy).toEqual(REPLAY_FIELDS.policy.default);
  });

  it('the trace is required, as before', async () => {
    const program = new Command().exitOverride();
    registerReplay(program);
    program.commands[0]!.exitOverride().configureOutput({ writeErr: () => {} });
    await expect(program.parseAsync(['replay'], { from: 'user' })).rejects.toThrow(/required option '--trace <file>'/);
  });
});

describe('a replay grid point', () => {
  it('gives exactly what `replay --json` prints for the same settings (re-timed sessions, skipped lines), but the wall time', async () => {
    const settings = { capacity: ['64k', 'inf'], policy: ['lru', 'belady'], sessionsStart: 'poisson:5', seed: 3, skipInvalid: true };
    const grid = parseSweepGrid({ name: 't', kind: 'replay', base: { trace: TRACE, ...settings } }, join(REPO, 'grid.json'));
    const point = await runSweepPoint(grid.runs[0]!, { timelines: false });
    const cli = expectJsonDocument(
      await kvflow(['replay', '--trace', TRACE, '--capacity', '64k,inf', '--policy', 'lru,belady', '--sessions-start', 'poisson:5', '--seed', '3', '--skip-invalid', '--json']),
    ) as { trace: Record<string, unknown>; results: Record<string, unknown>[] };
    const withoutSeconds = { ...cli, results: cli.results.map(({ seconds: _seconds, ...result }) => result) };
    expect(point.report).toEqual(withoutSeconds);
    expect(cli.trace).toMatchObject({ sessionsStart: 'poisson:5', skippedLines: 0 });
  });
});

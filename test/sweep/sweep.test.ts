/**
 * `kvflow sweep`: grid expansion and validation, and determinism: the same document whether the runs go
 * through this thread, one worker or two (worker runs load the built dist/, as `npm test` builds first).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { generateRequests } from '../../src/workload/generate.js';
import { loadWorkflowSpec } from '../../src/workload/spec.js';
import { writeTrace } from '../../src/workload/trace.js';
import { loadSweepGrid, parseSweepGrid, runLabel } from '../../src/sweep/sweep-grid.js';
import { renderSweepHtml, runSweep } from '../../src/sweep/sweep.js';

const WORKLOADS = new URL('../../workloads/', import.meta.url).pathname;

describe('sweep grids', () => {
  it('expand base x points x axes, the last axis fastest, paths against the grid folder', () => {
    const grid = parseSweepGrid(
      {
        name: 'g',
        kind: 'simulate',
        base: { workload: 'sequential-10.json', setups: ['sglang'] },
        points: [{ seed: 1 }, { seed: 2, replicas: 2 }],
        axes: { gpu: ['A10G', 'H100-SXM'], mfu: [0.4, 0.5, 0.6] },
      },
      join(WORKLOADS, 'grid.json'),
    );
    expect(grid.runs).toHaveLength(12);
    expect(grid.runs.slice(0, 4).map(runLabel)).toEqual([
      'seed=1 gpu=A10G mfu=0.4',
      'seed=1 gpu=A10G mfu=0.5',
      'seed=1 gpu=A10G mfu=0.6',
      'seed=1 gpu=H100-SXM mfu=0.4',
    ]);
    expect(grid.runs[11]!.config).toMatchObject({ seed: 2, replicas: 2, gpu: 'H100-SXM', mfu: 0.6, setups: ['sglang'] });
    expect(grid.runs[0]!.config.workload).toMatch(/workloads\/sequential-10\.json$/);
  });

  it('report problems at their path', () => {
    const problem = (json: unknown) => {
      try {
        parseSweepGrid(json, 'grid.json');
      } catch (error) {
        expect(error).toBeInstanceOf(InputError);
        return (error as Error).message;
      }
      throw new Error('no problem reported');
    };
    expect(problem({ name: 'g', kind: 'bench' })).toBe('grid.json: kind: must be "simulate" or "replay"');
    expect(problem({ name: 'g', kind: 'simulate', base: { workload: 'w.json', gpus: ['A10G'] } })).toBe('grid.json: base.gpus: unknown field (did you mean gpu?)');
    expect(problem({ name: 'g', kind: 'simulate', base: { workload: 'w.json' }, axes: { gpu: ['A10G', 'B200'] } })).toMatch(/^grid\.json: axes\.gpu\.1: /);
    expect(problem({ name: 'g', kind: 'simulate', axes: { seed: [] } })).toBe('grid.json: axes.seed: list at least one value');
    expect(problem({ name: 'g', kind: 'simulate', base: { seed: 1 } })).toMatch(/give exactly one of workload or trace/);
    expect(problem({ name: 'g', kind: 'replay', base: { trace: 't.jsonl', capacity: ['lots'] } })).toMatch(/^grid\.json: base\.capacity\.0: "lots" is not a token count/);
    expect(problem({ name: 'g', kind: 'replay', base: { trace: 't.jsonl', graph: 'declared' } })).toMatch(/graph "declared" needs a workflow spec/);
  });

  it('bundled grids are valid', async () => {
    for (const name of ['example.json', 'replay-policies.json']) {
      const grid = await loadSweepGrid(join(WORKLOADS, 'sweeps', name));
      expect(grid.runs.length).toBeGreaterThan(1);
    }
  });
});

describe('kvflow sweep determinism', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kvflow-sweep-'));
    const spec = await loadWorkflowSpec(join(WORKLOADS, 'sequential-10.json'));
    await writeTrace(join(dir, 'trace.jsonl'), generateRequests({ ...spec, rounds: 3 }, { seed: 1 }));
    await writeFile(
      join(dir, 'simulate.json'),
      JSON.stringify({
        name: 'sim',
        kind: 'simulate',
        base: { workload: join(WORKLOADS, 'sequential-10.json'), setups: ['sglang', 'kvflow'] },
        axes: { seed: [1, 2], cpuPoolBytes: [1e9, 4e9] },
      }),
    );
    await writeFile(
      join(dir, 'replay.json'),
      JSON.stringify({
        name: 'replay',
        kind: 'replay',
        base: { trace: 'trace.jsonl', policy: ['lru', 'ste', 'belady'] },
        points: [{}, { workflow: join(WORKLOADS, 'sequential-10.json') }, { graph: 'learned' }],
        axes: { capacity: [['8k'], ['16k', 'inf']] },
      }),
    );
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('gives byte-identical JSON for a simulate grid in-process, on 1 and on 2 workers', async () => {
    const grid = await loadSweepGrid(join(dir, 'simulate.json'));
    const documents = [];
    for (const workers of [0, 1, 2]) documents.push(JSON.stringify((await runSweep(grid, { workers, timelines: false })).document));
    expect(documents[1]).toBe(documents[0]);
    expect(documents[2]).toBe(documents[0]);
    const parsed = JSON.parse(documents[0]!);
    expect(parsed.runs.map((run: { index: number }) => run.index)).toEqual([0, 1, 2, 3]);
    expect(parsed.runs[0].report.results.map((r: { setup: string }) => r.setup)).toEqual(['sglang', 'kvflow']);
  });

  it('gives byte-identical JSON for a replay grid on 1 and on 2 workers, without wall-clock fields', async () => {
    const grid = await loadSweepGrid(join(dir, 'replay.json'));
    const one = JSON.stringify((await runSweep(grid, { workers: 1, timelines: false })).document);
    const two = JSON.stringify((await runSweep(grid, { workers: 2, timelines: false })).document);
    expect(two).toBe(one);
    const parsed = JSON.parse(one);
    expect(parsed.runs).toHaveLength(6);
    expect(parsed.runs[4].params).toEqual({ graph: 'learned', capacity: ['8k'] });
    expect(parsed.runs[0].params).toEqual({ capacity: ['8k'] });
    expect(parsed.runs[0].report.results[0]).not.toHaveProperty('seconds');
    // With the step graph, ste differs from lru at a small cache; without it, it is lru exactly.
    const hit = (run: number, policy: string) => parsed.runs[run].report.results.find((r: { policy: string }) => r.policy === policy).hitRate;
    expect(hit(0, 'ste')).toBe(hit(0, 'lru'));
    expect(hit(2, 'ste')).toBeGreaterThan(hit(2, 'lru'));
  });

  it('reports bad input found on a worker as bad input', async () => {
    await writeFile(join(dir, 'missing.json'), JSON.stringify({ name: 'm', kind: 'replay', base: { trace: 'nope.jsonl' } }));
    const grid = await loadSweepGrid(join(dir, 'missing.json'));
    await expect(runSweep(grid, { workers: 1, timelines: false })).rejects.toBeInstanceOf(InputError);
  });

  it('renders one HTML report for a simulate grid', async () => {
    const grid = await loadSweepGrid(join(dir, 'simulate.json'));
    const outcome = await runSweep(grid, { workers: 0, timelines: true });
    const html = await renderSweepHtml(grid, outcome);
    expect(html.startsWith('<!doctype html>')).toBe(true);
    // Short labels from the swept values, one small-multiple panel per setup, every run in the table.
    expect(html).toContain('seed 2 · cpu pool 4 GB · kvflow');
    expect(html).not.toContain('cpuPoolBytes=4000000000');
    expect(html.match(/<svg[\s>]/g)).toHaveLength(4);
  });

  it('renders one HTML report for a replay grid, a panel per point and the LRU-to-Belady gap shaded', async () => {
    const grid = await loadSweepGrid(join(dir, 'replay.json'));
    const outcome = await runSweep(grid, { workers: 0, timelines: false });
    const html = await renderSweepHtml(grid, outcome);
    expect(html).toContain('Hit rate against cache capacity');
    expect(html).toContain('graph learned');
    expect(html).toMatch(/role-mark[^"]*"[^>]*aria-roledescription="area mark container"/);
  });
});

/**
 * `--sessions-start`: re-timing keeps each session's own gaps and order and moves only its start; the
 * same seed gives the same Poisson starts; the three commands take the flag and refuse a bad one.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { TraceRequest } from '../../src/types.js';
import { readTrace } from '../../src/workload/read.js';
import { parseSessionsStart, retimeSessions } from '../../src/workload/sessions-start.js';
import { expectJsonDocument, expectUsageError, kvflow } from '../helpers/cli.js';
import { requireTrace } from '../helpers/requirements.js';

const MINISWE = requireTrace('lmcache_agent_miniswe.jsonl');

function call(id: string, workflow: string, at: Partial<Pick<TraceRequest, 't' | 'loggedT' | 'after' | 'think'>>): TraceRequest {
  return { id, workflow, blocks: [1], blockSize: 16, inputLength: 16, outputLength: 1, ...at };
}

/** Two sessions logged one after the other; session b's calls were logged out of order. */
const LOGGED = [
  call('a0', 'a', { t: 0, loggedT: 0 }),
  call('a1', 'a', { after: ['a0'], loggedT: 3 }),
  call('b0', 'b', { t: 100, loggedT: 100 }),
  call('b1', 'b', { after: ['b0'], loggedT: 107 }),
  call('b2', 'b', { after: ['b1'], loggedT: 104 }),
];

const times = (requests: TraceRequest[]) => Object.fromEntries(requests.map((r) => [r.id, r.t]));

describe('retimeSessions', () => {
  it('together starts every session at 0 and keeps its logged gaps, in logged order', () => {
    const retimed = retimeSessions(LOGGED, { kind: 'together' });
    expect(times(retimed)).toEqual({ a0: 0, a1: 3, b0: 0, b1: 7, b2: 4 });
    expect(retimed.map((r) => r.id)).toEqual(['a0', 'b0', 'a1', 'b2', 'b1']);
    // one call at a time per session, in the new order
    expect(retimed.find((r) => r.id === 'b2')!.after).toEqual(['b0']);
    expect(retimed.find((r) => r.id === 'b1')!.after).toEqual(['b2']);
    expect(retimed.every((r) => r.loggedT === undefined)).toBe(true);
  });

  it('as-logged keeps the logged starts and puts every call at its logged time', () => {
    expect(times(retimeSessions(LOGGED, { kind: 'as-logged' }))).toEqual({ a0: 0, a1: 3, b0: 100, b1: 107, b2: 104 });
  });

  it('closed-loop calls without a time follow the previous call by their think time', () => {
    const closed = [call('x0', 'x', { t: 5 }), call('x1', 'x', { after: ['x0'], think: 2 }), call('x2', 'x', { after: ['x1'] })];
    expect(times(retimeSessions(closed, { kind: 'together' }))).toEqual({ x0: 0, x1: 2, x2: 2 });
  });

  it('poisson starts depend only on the seed, and sessions keep their gaps', () => {
    const start = { kind: 'poisson', rate: 0.5 } as const;
    const one = retimeSessions(LOGGED, start, 7);
    expect(retimeSessions(LOGGED, start, 7)).toEqual(one);
    expect(times(retimeSessions(LOGGED, start, 8))).not.toEqual(times(one));
    const t = times(one);
    expect(t.a1! - t.a0!).toBeCloseTo(3, 9);
    expect(t.b1! - t.b0!).toBeCloseTo(7, 9);
    expect(t.b2! - t.b0!).toBeCloseTo(4, 9);
    expect(t.a0).toBeGreaterThan(0);
    expect(t.b0).toBeGreaterThan(t.a0!);
  });

  it('keeps every call, sorted by t, with every after pointing backwards (property)', () => {
    const arbCall = fc.record({ session: fc.integer({ min: 0, max: 3 }), logged: fc.integer({ min: 0, max: 50 }) });
    fc.assert(
      fc.property(fc.array(arbCall, { maxLength: 30 }), fc.constantFrom('together', 'as-logged', 'poisson'), (calls, kind) => {
        const requests = calls.map((c, i) => call(`r${i}`, `s${c.session}`, { t: c.logged }));
        const start = kind === 'poisson' ? ({ kind, rate: 2 } as const) : ({ kind } as const);
        const retimed = retimeSessions(requests, start, 3);
        expect(retimed.map((r) => r.id).sort()).toEqual(requests.map((r) => r.id).sort());
        const seen = new Set<string>();
        for (let i = 0; i < retimed.length; i++) {
          if (i > 0) expect(retimed[i]!.t!).toBeGreaterThanOrEqual(retimed[i - 1]!.t!);
          for (const id of retimed[i]!.after ?? []) expect(seen.has(id)).toBe(true);
          seen.add(retimed[i]!.id);
        }
      }),
      { seed: 12, numRuns: 200 },
    );
  });
});

describe('parseSessionsStart', () => {
  it('reads the three modes and refuses anything else', () => {
    expect(parseSessionsStart('together')).toEqual({ kind: 'together' });
    expect(parseSessionsStart('as-logged')).toEqual({ kind: 'as-logged' });
    expect(parseSessionsStart('poisson:0.25')).toEqual({ kind: 'poisson', rate: 0.25 });
    for (const bad of ['poisson:0', 'poisson:', 'poisson:-1', 'later', 'poisson:abc']) {
      expect(() => parseSessionsStart(bad)).toThrow(/not a sessions start/);
    }
  });
});

describe.runIf(MINISWE)('--sessions-start on the commands', () => {
  it('replay reports the re-timing and differs from the trace as read', async () => {
    const args = ['replay', '--trace', MINISWE, '--policy', 'lru', '--capacity', '32k', '--json'];
    const asRead = expectJsonDocument(await kvflow(args)) as { results: { hitRate: number }[] };
    const together = expectJsonDocument(await kvflow([...args, '--sessions-start', 'together'])) as {
      trace: { sessionsStart: string };
      results: { hitRate: number }[];
    };
    expect(together.trace.sessionsStart).toBe('together');
    expect(together.results[0]!.hitRate).toBeLessThan(asRead.results[0]!.hitRate);
  });

  it('trace convert writes a re-timed canonical trace that reads back with the same times', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kvflow-sessions-'));
    try {
      const out = join(dir, 'together.jsonl');
      const run = await kvflow(['trace', 'convert', MINISWE, '--sessions-start', 'poisson:0.1', '--seed', '4', '--out', out]);
      expect(run.status, run.stderr).toBe(0);
      const back = await readTrace(out);
      const direct = retimeSessions((await readTrace(MINISWE)).requests, { kind: 'poisson', rate: 0.1 }, 4);
      expect(back.requests.map((r) => [r.id, r.t, r.after])).toEqual(direct.map((r) => [r.id, r.t, r.after]));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses a bad mode on each command with exit 2', async () => {
    const runs = await Promise.all([
      kvflow(['replay', '--trace', MINISWE, '--sessions-start', 'poisson:0']),
      kvflow(['simulate', '--trace', MINISWE, '--sessions-start', 'soon']),
      kvflow(['trace', 'convert', MINISWE, '--sessions-start', 'poisson:x']),
    ]);
    for (const run of runs) expectUsageError(run, '--sessions-start');
  });
});

/**
 * Private agents' STE kept relative to per-instance clocks (src/graph/ste-clock.ts) against the absolute
 * values it replaced (test/helpers/absolute-ste.ts): the same changes in the same order, snapshots and
 * versions from WorkflowSte, the same page priorities in the ste policy, and the same replays.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { StePolicy } from '../../src/cache/ste-policy.js';
import { policyFactory } from '../../src/cache/policy-registry.js';
import { AgentStepGraph } from '../../src/graph/graph.js';
import { ClockedSteChanges, ClockedSteLog, SteClock } from '../../src/graph/ste-clock.js';
import { STE_HORIZON } from '../../src/graph/tracker.js';
import { WorkflowSte } from '../../src/graph/workflow-ste.js';
import { replayTrace } from '../../src/replay/replay.js';
import { generateRequests } from '../../src/workload/generate.js';
import { parseWorkflowSpec } from '../../src/workload/spec.js';
import { AbsolutePrivateSte } from '../helpers/absolute-ste.js';
import { buildGraph, graphArbitrary, type GraphCase } from '../helpers/graphs.js';
import { runs } from '../helpers/runs.js';

const SEED = 20261202;

/** Graph cases whose count loops may go round 2^31 times: values past MAX_STEPS (relax-scratch.ts) are cut. */
const caseArbitrary = fc.tuple(graphArbitrary, fc.boolean(), fc.constantFrom(0, 1, 2, 4, STE_HORIZON, Infinity)).map(([w, huge, horizon]) => ({
  ...w,
  horizon,
  loops: huge ? w.loops.map((loop) => (loop?.count === null || loop === null ? loop : { ...loop, count: 2 ** 31 })) : w.loops,
}));

const eventsArbitrary = fc.array(
  fc.record({ instance: fc.integer({ min: 0, max: 2 }), kind: fc.constantFrom('begin', 'end', 'finish', 'begin', 'end'), agent: fc.nat(), take: fc.boolean() }),
  { maxLength: 60 },
);

/** Tags 0-3 pages per key of every instance and agent, so priorities depend on the values. */
function taggedPolicy(w: GraphCase, pagesOf: Map<string, number[]>): { policy: StePolicy; rekeyed: Set<number> } {
  const policy = new StePolicy();
  const rekeyed = new Set<number>();
  policy.bind({ reprioritize: (page) => void rekeyed.add(page) });
  for (const [key, pages] of pagesOf) for (const page of pages) policy.tag(page, key);
  void w;
  return { policy, rekeyed };
}

describe('STE relative to per-instance clocks', () => {
  it('WorkflowSte hands out the changes, snapshots and versions of absolute values, and the ste policy ends with the same priorities', () => {
    fc.assert(
      fc.property(caseArbitrary, eventsArbitrary, fc.array(fc.nat({ max: 3 }), { minLength: 27, maxLength: 27 }), (w, events, pageCounts) => {
        const graph = buildGraph(w);
        const clocked = new WorkflowSte(graph, { shareAgents: false, ...(Number.isFinite(w.horizon) && { horizon: w.horizon }) });
        const absolute = new AbsolutePrivateSte(graph, Number.isFinite(w.horizon) ? { horizon: w.horizon } : {});
        // Pages: some shared between two keys (a page in two agents' fixed prompts).
        const pagesOf = new Map<string, number[]>();
        let page = 0;
        for (let instance = 0; instance < 3; instance++) {
          for (let agent = 0; agent < w.size; agent++) {
            const count = pageCounts[instance * 9 + agent]!;
            pagesOf.set(`i${instance}/a${agent}`, Array.from({ length: count }, () => (count === 3 && page > 0 ? page - 1 : page++)));
          }
        }
        const viaClocks = taggedPolicy(w, pagesOf);
        const viaValues = taggedPolicy(w, pagesOf);
        const pages = page;
        for (const event of [...events, { instance: 0, kind: 'end', agent: 0, take: true }]) {
          const instance = `i${event.instance}`;
          const agent = `a${event.agent % w.size}`;
          if (event.kind === 'finish') {
            clocked.finish(instance);
            absolute.finish(instance);
          } else {
            clocked[event.kind as 'begin' | 'end'](instance, agent);
            absolute[event.kind as 'begin' | 'end'](instance, agent);
          }
          expect(clocked.version).toBe(absolute.version);
          expect([...clocked.snapshot()]).toEqual([...absolute.snapshot()]);
          expect(clocked.snapshot().get(`${instance}/${agent}`)).toBe(absolute.snapshot().get(`${instance}/${agent}`));
          expect(clocked.tagKey(instance, agent)).toBe(absolute.tagKey(instance, agent));
          if (!event.take) continue;
          const changes = clocked.takeChanges();
          expect(changes).toBeInstanceOf(ClockedSteChanges);
          const before = Array.from({ length: pages }, (_, p) => viaClocks.policy.steOfPage(p));
          viaClocks.rekeyed.clear();
          viaClocks.policy.applySte(changes);
          const expected = [...absolute.takeChanges()];
          expect([...changes]).toEqual(expected);
          expect(changes.size).toBe(expected.length);
          viaValues.policy.applySte(new Map(expected));
          for (let p = 0; p < pages; p++) {
            const ste = viaClocks.policy.steOfPage(p);
            expect(ste).toBe(viaValues.policy.steOfPage(p));
            if (ste !== before[p]) expect(viaClocks.rekeyed.has(p)).toBe(true);
          }
          expect(viaClocks.policy.agentsInPlay).toBe(viaValues.policy.agentsInPlay);
        }
      }),
      { numRuns: runs(150), seed: SEED },
    );
  });

  it('replays chains and random workflows with the same results as absolute values', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 40 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 20 }), fc.constantFrom(2, 4, STE_HORIZON), (agents, instances, capacityPages, horizon) => {
        const names = Array.from({ length: agents }, (_, i) => `a${i}`);
        const spec = parseWorkflowSpec(
          {
            name: 'chain',
            blockSize: 16,
            agents: Object.fromEntries(names.map((name, i) => [name, { fixed: 16 * (1 + (i % 3)), dynamic: 16, output: 1 }])),
            edges: [...names.slice(1).map((name, i) => ({ from: names[i], to: name })), { from: names[agents - 1], to: names[Math.floor(agents / 2)], kind: 'loop', count: 2 }],
            start: 'a0',
            rounds: 3,
            shareAgents: false,
            instances,
            arrival: { kind: 'closed', concurrency: instances },
          },
          'test',
        );
        const graph = AgentStepGraph.fromSpec(spec);
        const requests = generateRequests(spec, { seed: agents * 7 + instances });
        const replay = (ste: WorkflowSte | AbsolutePrivateSte) =>
          replayTrace(requests, { policy: policyFactory('ste'), capacityTokens: capacityPages * 16, blockSize: 16, ste });
        const { seconds: _a, ...clocked } = replay(new WorkflowSte(graph, { shareAgents: false, horizon }));
        const { seconds: _b, ...absolute } = replay(new AbsolutePrivateSte(graph, { horizon }));
        expect(clocked).toEqual(absolute);
      }),
      { numRuns: runs(25), seed: SEED },
    );
  });
});

describe('ClockedSteLog takes, exact', () => {
  it('each take holds only what was noted since the last one, and reads as a Map of absolute changes', () => {
    const log = new ClockedSteLog();
    const first = new SteClock();
    const second = new SteClock();
    first.value = 5;
    second.value = 7;
    log.noteValue('a', 3);
    log.noteValue('b', undefined);
    log.noteValue('a', 4);
    log.noteRelative('a', first, 9);
    log.noteRelative('b', second, NaN);
    log.noteRelative('c', first, 8);
    log.noteMove(second);
    const one = log.take();
    expect(one.relative).toEqual({ keys: ['a', 'b', 'c'], clocks: [0, 1, 0], values: [9, NaN, 8] });
    expect(one.moves).toEqual({ clocks: [first, second], values: [5, 7], moved: [false, true] });
    // The Map view: first-change order, latest value, NaN read as unknown.
    expect(one.size).toBe(2);
    expect(one.get('a')).toBe(4);
    expect(one.get('b')).toBeUndefined();
    expect(one.has('b')).toBe(true);
    expect(one.has('c')).toBe(false);
    expect([...one.keys()]).toEqual(['a', 'b']);
    expect([...one.values()]).toEqual([4, undefined]);
    expect([...one.entries()]).toEqual([['a', 4], ['b', undefined]]);
    expect([...one]).toEqual([['a', 4], ['b', undefined]]);
    const seen: [string, number | undefined, unknown][] = [];
    const self = {};
    one.forEach(function (this: unknown, value, key, map) {
      expect(map).toBe(one);
      seen.push([key, value, this]);
    }, self);
    expect(seen).toEqual([['a', 4, self], ['b', undefined, self]]);

    // A shorter second take: nothing of the first is left in it; `second`, listed first now, has index 0.
    second.value = 6;
    log.noteRelative('d', second, 2);
    const two = log.take();
    expect(two.relative).toEqual({ keys: ['d'], clocks: [0], values: [2] });
    expect(two.moves).toEqual({ clocks: [second], values: [6], moved: [false] });
    expect([...two]).toEqual([]);
    const three = log.take();
    expect(three.relative).toEqual({ keys: [], clocks: [], values: [] });
    expect(three.moves).toEqual({ clocks: [], values: [], moved: [] });
  });
});

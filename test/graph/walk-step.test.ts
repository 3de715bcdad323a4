/**
 * A chain step from a walk is applied as a shift of the values, without a search (src/graph/progress.ts
 * `begin`), held here to a tracker that searches again on every event: the same changed agents in the same
 * order, the same values, the same order of known agents; and WorkflowSte built on it to the absolute
 * values it logs (test/helpers/absolute-ste.ts). The graphs are mostly long chains (so walks happen) with
 * branches, fan-outs, joins, loops and rounds where a step must search, and the events mostly follow them.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AgentStepGraph } from '../../src/graph/graph.js';
import { STE_HORIZON, StepTracker } from '../../src/graph/tracker.js';
import { WorkflowSte } from '../../src/graph/workflow-ste.js';
import { AbsolutePrivateSte } from '../helpers/absolute-ste.js';
import { runs } from '../helpers/runs.js';

const SEED = 20261204;

interface ChainCase {
  size: number;
  /** Agents whose exit is not the chain's next agent: another kind of edge, or none. */
  specials: { at: number; kind: 'branch' | 'fanout' | 'join' | 'loop' | 'count-loop' | 'none' | 'back'; to: number }[];
  rounds: number | null;
  horizon: number;
}

const caseArbitrary: fc.Arbitrary<ChainCase> = fc.record({
  size: fc.integer({ min: 1, max: 28 }),
  specials: fc.array(
    fc.record({ at: fc.nat(), kind: fc.constantFrom('branch', 'fanout', 'join', 'loop', 'count-loop', 'none', 'back'), to: fc.nat() }),
    { maxLength: 3 },
  ),
  rounds: fc.option(fc.integer({ min: 1, max: 4 }), { freq: 4 }),
  horizon: fc.constantFrom(1, 2, 3, 4, 6, STE_HORIZON),
}) as fc.Arbitrary<ChainCase>;

/** a0 -> a1 -> ... -> a(n-1), start a0, with the special agents' exits replaced or added to. */
function chainGraph(w: ChainCase): AgentStepGraph {
  const graph = new AgentStepGraph();
  const name = (i: number) => `a${i % w.size}`;
  for (let i = 0; i < w.size; i++) graph.addAgent(name(i));
  const special = new Map(w.specials.map((s) => [s.at % w.size, s]));
  const tryAdd = (edge: Parameters<AgentStepGraph['addEdge']>[0]) => {
    try {
      graph.addEdge(edge);
    } catch {
      // an agent that already continues: the edge is dropped
    }
  };
  for (let i = 0; i < w.size; i++) {
    const s = special.get(i);
    const next = name(i + 1);
    if (i === w.size - 1 && s === undefined) continue; // the last agent is terminal
    if (s === undefined) tryAdd({ kind: 'chain', from: name(i), to: next });
    else if (s.kind === 'branch') tryAdd({ kind: 'branch', from: name(i), to: { [next]: 0.5, [name(s.to)]: 0.5 } });
    else if (s.kind === 'fanout') tryAdd({ kind: 'fanout', from: name(i), to: [...new Set([next, name(s.to)])] });
    else if (s.kind === 'join') tryAdd({ kind: 'join', from: [...new Set([name(i), name(s.to)])], to: next });
    else if (s.kind === 'back') tryAdd({ kind: 'chain', from: name(i), to: name(s.to) });
    else if (s.kind === 'loop' || s.kind === 'count-loop') {
      tryAdd({ kind: 'chain', from: name(i), to: next });
      tryAdd({ kind: 'loop', from: name(i), to: name(s.to), ...(s.kind === 'loop' ? { probability: 0.5 } : { count: 1 + (s.to % 3) }) });
    }
  }
  graph.start = name(0);
  if (w.rounds !== null) graph.rounds = w.rounds;
  return graph;
}

/** Mostly "step": end what runs, else begin an agent the last ended one leads to; sometimes any event. */
const eventsArbitrary = fc.array(
  fc.record({
    kind: fc.oneof({ arbitrary: fc.constant('step'), weight: 30 }, { arbitrary: fc.constantFrom('begin', 'end', 'finish'), weight: 1 }),
    instance: fc.integer({ min: 0, max: 1 }),
    agent: fc.nat(),
    // Mostly read after each event, as WorkflowSte does (an end is applied in place only after a read).
    take: fc.constantFrom(true, true, true, false),
    // Without a take, sometimes a read that settles without taking (a shift then lists behind untaken changes).
    peek: fc.boolean(),
  }),
  { minLength: 20, maxLength: 120 },
);

type Event = { instance: string; kind: 'begin' | 'end' | 'finish'; agent: string };

/** Feeds `event` to each STE source (a tracker, or WorkflowSte and its absolute reference). */
function apply(event: Event, ...sources: { begin(instance: string, agent: string): void; end(instance: string, agent: string): void; finish(instance: string): void }[]): void {
  for (const source of sources) {
    if (event.kind === 'finish') source.finish(event.instance);
    else source[event.kind](event.instance, event.agent);
  }
}

/** Turns the generated events into concrete ones, following the graph's edges on "step". */
function concrete(graph: AgentStepGraph, events: readonly { kind: string; instance: number; agent: number; take: boolean; peek: boolean }[], twoInstances: boolean) {
  const running = new Map<string, string | undefined>();
  const lastEnded = new Map<string, string | undefined>();
  const out: (Event & { take: boolean; peek: boolean })[] = [];
  const successors = (agent: string): string[] => {
    const next: string[] = [];
    for (const edge of graph.edges) {
      const from = Array.isArray(edge.from) ? edge.from : [edge.from];
      if (!from.includes(agent)) continue;
      if (edge.kind === 'branch') next.push(...Object.keys(edge.to as Record<string, number>));
      else if (Array.isArray(edge.to)) next.push(...edge.to);
      else next.push(edge.to as string);
    }
    return next.length > 0 ? next : graph.start === undefined ? [] : [graph.start];
  };
  for (const event of events) {
    const instance = twoInstances ? `i${event.instance}` : 'i0';
    const agent = `a${event.agent % graph.agents.length}`;
    if (event.kind === 'finish') {
      out.push({ instance, kind: 'finish', agent, take: event.take, peek: event.peek });
      running.delete(instance);
      lastEnded.delete(instance);
      continue;
    }
    if (event.kind !== 'step') {
      out.push({ instance, kind: event.kind as 'begin' | 'end', agent, take: event.take, peek: event.peek });
      continue;
    }
    const now = running.get(instance);
    if (now !== undefined) {
      out.push({ instance, kind: 'end', agent: now, take: event.take, peek: event.peek });
      running.set(instance, undefined);
      lastEnded.set(instance, now);
      continue;
    }
    const ended = lastEnded.get(instance);
    const options = ended === undefined ? [graph.start ?? agent] : successors(ended);
    const next = options.length > 0 ? options[event.agent % options.length]! : agent;
    out.push({ instance, kind: 'begin', agent: next, take: event.take, peek: event.peek });
    running.set(instance, next);
  }
  return out;
}

describe('a chain step from a walk, shifted without a search', () => {
  it('gives the changes, values and orders of a search on every event', () => {
    let shifted = 0;
    const numRuns = runs(400);
    fc.assert(
      fc.property(caseArbitrary, eventsArbitrary, fc.boolean(), (w, events, twoInstances) => {
        const graph = chainGraph(w);
        const tracker = new StepTracker(graph, { horizon: w.horizon });
        const reference = new StepTracker(graph, { horizon: w.horizon, inPlaceEnds: false });
        // Read as WorkflowSte reads it: a shift's agents (the first of the known ones), then the other changes.
        const byShifts = new StepTracker(graph, { horizon: w.horizon });
        for (const event of concrete(graph, events, twoInstances)) {
          apply(event, tracker, reference, byShifts);
          if (!event.take) {
            if (event.peek) {
              expect([...tracker.snapshot()]).toEqual([...reference.snapshot()]);
              expect([...byShifts.snapshot()]).toEqual([...reference.snapshot()]);
            }
            continue;
          }
          const changed = reference.takeChangedIds();
          const shifted = byShifts.takeShifted();
          expect([...(shifted > 0 ? [...byShifts.knownIds()].slice(0, shifted) : []), ...byShifts.takeChangedIds()]).toEqual(changed);
          expect(tracker.takeChangedIds()).toEqual(changed);
          expect([...tracker.snapshot()]).toEqual([...reference.snapshot()]);
          if (!twoInstances) expect([...tracker.knownIds()]).toEqual([...reference.knownIds()]);
        }
        shifted += tracker.shiftedBegins;
        expect(reference.shiftedBegins).toBe(0);
        expect(tracker.takeChangedIds()).toEqual(reference.takeChangedIds());
        expect([...tracker.snapshot()]).toEqual([...reference.snapshot()]);
      }),
      { numRuns, seed: SEED },
    );
    // The property exercised the path it is about: more than 1,000 shifts over its 400 runs, proportionally
    // fewer at `npm run mutate`'s quarter of the runs.
    expect(shifted).toBeGreaterThan(Math.floor((1_000 * numRuns) / 400));
  });

  it('gives WorkflowSte the absolute changes, snapshots and versions of the source it replaced', () => {
    fc.assert(
      fc.property(caseArbitrary, eventsArbitrary, fc.boolean(), (w, events, twoInstances) => {
        const graph = chainGraph(w);
        const clocked = new WorkflowSte(graph, { shareAgents: false, horizon: w.horizon });
        const absolute = new AbsolutePrivateSte(graph, { horizon: w.horizon });
        // Its snapshot's key table is built on the first read (WorkflowSte.#keyedMap): here only at the end.
        const readLate = new WorkflowSte(graph, { shareAgents: false, horizon: w.horizon });
        for (const event of concrete(graph, events, twoInstances)) {
          apply(event, clocked, absolute, readLate);
          if (!event.take) continue;
          expect([...clocked.takeChanges()]).toEqual([...absolute.takeChanges()]);
          expect([...clocked.snapshot()]).toEqual([...absolute.snapshot()]);
        }
        expect([...clocked.takeChanges()]).toEqual([...absolute.takeChanges()]);
        expect([...readLate.snapshot()]).toEqual([...absolute.snapshot()]);
        expect(readLate.snapshot().size).toBe(absolute.snapshot().size);
      }),
      { numRuns: runs(200), seed: SEED + 1 },
    );
  });

  it('lists a shift read but not taken before the changes of a finish that follows it', () => {
    const graph = chainGraph({ size: 20, specials: [], rounds: null, horizon: 3 });
    const tracker = new StepTracker(graph, { horizon: 3 });
    const reference = new StepTracker(graph, { horizon: 3, inPlaceEnds: false });
    for (const source of [tracker, reference]) {
      source.begin('wf', 'a0');
      source.takeChangedIds();
      source.end('wf', 'a0');
      source.takeChangedIds();
      source.begin('wf', 'a1');
      source.snapshot(); // settles the shift without taking it
      source.finish('wf');
    }
    expect(tracker.shiftedBegins).toBe(1);
    expect(tracker.takeChangedIds()).toEqual(reference.takeChangedIds());
  });

  it('steps a 100,000-agent chain without searching: one shift per begin once the walk is found', () => {
    // Under `npm run mutate` a 10,000-agent chain makes the same point in a tenth of the time.
    const graph = chainGraph({ size: process.env.KVFLOW_MUTATE === '1' ? 10_000 : 100_000, specials: [], rounds: 2, horizon: STE_HORIZON });
    const tracker = new StepTracker(graph, { horizon: STE_HORIZON });
    for (let step = 0; step < 1_000; step++) {
      tracker.begin('wf', `a${step}`);
      tracker.takeChangedIds();
      tracker.end('wf', `a${step}`);
      tracker.takeChangedIds();
    }
    expect(tracker.shiftedBegins).toBe(999);
    expect(tracker.steOf('a1000')).toBe(1);
    expect(tracker.steOf('a1015')).toBe(STE_HORIZON);
    expect(tracker.steOf('a1016')).toBeUndefined();
  });
});

/**
 * The walk shift (src/graph/progress.ts `begin`, `#shift`, `#walkHolds`) on hand-built graphs, one event at a
 * time: the values, the changed agents, the known agents' order and the shift count after each event, computed
 * by hand, and every one of them also what a tracker that searches on every event gives (walk-step.test.ts holds
 * the two to each other on random graphs; these pin the cases at each guard of the shift).
 */
import { describe, expect, it } from 'vitest';
import { AgentStepGraph } from '../../src/graph/graph.js';
import { StepTracker } from '../../src/graph/tracker.js';
import type { EdgeSpec } from '../../src/workload/spec.js';

interface Spec {
  /** Agents added first, in this order (ids 0, 1, ...); the edges add the rest. */
  agents?: string[];
  edges: EdgeSpec[];
  start?: string;
  rounds?: number;
  horizon: number;
}

/** What one event left: the tracker's values, the agents whose value changed, the known order, begins shifted. */
interface After {
  values: Record<string, number>;
  changed: string[];
  known: string[];
  shifted: number;
  /** Agents the tracker's last search examined (0 after a shift or an end in place). */
  visits: number;
}

/** One instance of `spec`, fed to a tracker and to a reference that searches on every event. */
function walkOf(spec: Spec) {
  const graph = new AgentStepGraph();
  for (const agent of spec.agents ?? []) graph.addAgent(agent);
  for (const edge of spec.edges) graph.addEdge(edge);
  if (spec.start !== undefined) graph.start = spec.start;
  if (spec.rounds !== undefined) graph.rounds = spec.rounds;
  const tracker = new StepTracker(graph, { horizon: spec.horizon });
  const reference = new StepTracker(graph, { horizon: spec.horizon, inPlaceEnds: false });
  const names = (ids: Iterable<number>) => [...ids].map((id) => graph.agents[id]!);
  const event = (kind: 'begin' | 'end', agent: string): After => {
    tracker[kind]('wf', agent);
    reference[kind]('wf', agent);
    // Read before the reference searches (both trackers share the graph's search space).
    const changed = names(tracker.takeChangedIds());
    const visits = tracker.lastSearchVisits;
    expect(changed).toEqual(names(reference.takeChangedIds()));
    const values = Object.fromEntries(tracker.snapshot());
    expect(values).toEqual(Object.fromEntries(reference.snapshot()));
    const known = names(tracker.knownIds());
    expect(known).toEqual(names(reference.knownIds()));
    expect(reference.shiftedBegins).toBe(0);
    return { values, changed, known, shifted: tracker.shiftedBegins, visits };
  };
  return { graph, tracker, begin: (agent: string) => event('begin', agent), end: (agent: string) => event('end', agent) };
}

/** a0 -> a1 -> ... -> a(n-1) as chain edges. */
function chain(n: number, prefix = 'a'): EdgeSpec[] {
  return Array.from({ length: n - 1 }, (_, i) => ({ kind: 'chain', from: `${prefix}${i}`, to: `${prefix}${i + 1}` }) as EdgeSpec);
}

describe('the walk shift, exact', () => {
  it('a chain under horizon 3 shifts each step until the walk reaches its terminal', () => {
    const w = walkOf({ edges: chain(7), horizon: 3 });
    expect(w.begin('a0')).toMatchObject({ values: { a0: 0, a1: 1, a2: 2, a3: 3 }, changed: ['a0', 'a1', 'a2', 'a3'], known: ['a0', 'a1', 'a2', 'a3'], shifted: 0 });
    // The running agent ends in place: nothing within 3 steps comes back to it.
    expect(w.end('a0')).toEqual({ values: { a1: 1, a2: 2, a3: 3 }, changed: ['a0'], known: ['a1', 'a2', 'a3'], shifted: 0, visits: 0 });
    expect(w.begin('a1')).toEqual({ values: { a1: 0, a2: 1, a3: 2, a4: 3 }, changed: ['a1', 'a2', 'a3', 'a4'], known: ['a1', 'a2', 'a3', 'a4'], shifted: 1, visits: 0 });
    w.end('a1');
    expect(w.begin('a2')).toMatchObject({ values: { a2: 0, a3: 1, a4: 2, a5: 3 }, shifted: 2, visits: 0 });
    w.end('a2');
    expect(w.begin('a3')).toMatchObject({ values: { a3: 0, a4: 1, a5: 2, a6: 3 }, known: ['a3', 'a4', 'a5', 'a6'], shifted: 3, visits: 0 });
    w.end('a3');
    // The walk's last agent a6 is terminal (no start): no way on, so the begin searches.
    const searched = w.begin('a4');
    expect(searched).toMatchObject({ values: { a4: 0, a5: 1, a6: 2 }, changed: ['a4', 'a5', 'a6'], known: ['a4', 'a5', 'a6'], shifted: 3 });
    expect(searched.visits).toBeGreaterThan(0);
  });

  it('a walk whose last agent leads back into it searches, and the begun agent turns that way down', () => {
    // a0 -> a1 -> a2 -> a3 -> a1: from a0 the path a0..a3 is a walk under horizon 3 (a3's way back reaches a1 at 4).
    const w = walkOf({ edges: [...chain(4), { kind: 'chain', from: 'a3', to: 'a1' }], horizon: 3 });
    expect(w.begin('a0')).toMatchObject({ values: { a0: 0, a1: 1, a2: 2, a3: 3 }, known: ['a0', 'a1', 'a2', 'a3'] });
    w.end('a0');
    // a3's one way on is a1, already on the walk: a search, in which a1 (running) turns down a3's offer of 3.
    const searched = w.begin('a1');
    expect(searched).toMatchObject({ values: { a1: 0, a2: 1, a3: 2 }, changed: ['a1', 'a2', 'a3'], known: ['a1', 'a2', 'a3'], shifted: 0 });
    expect(searched.visits).toBeGreaterThan(0);
    // Ended in place, a1 takes what it turned down.
    expect(w.end('a1')).toMatchObject({ values: { a1: 3, a2: 1, a3: 2 }, changed: ['a1'], known: ['a2', 'a3', 'a1'], visits: 0 });
  });

  it('a walk that is one no longer after an agent on it branches back to itself: its turned-down offer survives the step', () => {
    // a1 branches to a2 or to itself: from a0 under horizon 2 the values are a path (a0 0, a1 1, a2 2), but a1
    // has two ways on, so the begin of a1 searches and a1 turns down its own offer of 1.
    const w = walkOf({ edges: [{ kind: 'chain', from: 'a0', to: 'a1' }, { kind: 'branch', from: 'a1', to: { a2: 0.5, a1: 0.5 } }, ...chain(5).slice(2)], horizon: 2 });
    expect(w.begin('a0')).toMatchObject({ values: { a0: 0, a1: 1, a2: 2 }, known: ['a0', 'a1', 'a2'] });
    w.end('a0');
    const searched = w.begin('a1');
    expect(searched).toMatchObject({ values: { a1: 0, a2: 1, a3: 2 }, known: ['a1', 'a2', 'a3'], shifted: 0 });
    expect(searched.visits).toBeGreaterThan(0);
    expect(w.end('a1')).toMatchObject({ values: { a1: 1, a2: 1, a3: 2 }, changed: ['a1'], known: ['a2', 'a3', 'a1'] });
  });

  it('an in-place end after a search that found no walk does not make the next step a shift', () => {
    // a1 branches to a2 and a3; a2 -> a4, a3 -> a5. From a0 under horizon 2 the values are no path.
    const w = walkOf({
      edges: [{ kind: 'chain', from: 'a0', to: 'a1' }, { kind: 'branch', from: 'a1', to: { a2: 0.5, a3: 0.5 } }, { kind: 'chain', from: 'a2', to: 'a4' }, { kind: 'chain', from: 'a3', to: 'a5' }],
      horizon: 2,
    });
    expect(w.begin('a0')).toMatchObject({ values: { a0: 0, a1: 1, a2: 2, a3: 2 }, known: ['a0', 'a1', 'a2', 'a3'] });
    expect(w.end('a0')).toMatchObject({ values: { a1: 1, a2: 2, a3: 2 }, changed: ['a0'], visits: 0 });
    // Shifting would give a1 0, a2 1, a3 1 and the last agent's way on, a5, at 2, but not a4.
    expect(w.begin('a1')).toMatchObject({ values: { a1: 0, a2: 1, a3: 1, a4: 2, a5: 2 }, known: ['a1', 'a2', 'a3', 'a4', 'a5'], shifted: 0 });
  });

  it('shifts onto agent id 0', () => {
    // z is agent 0, the chain's last agent.
    const w = walkOf({ agents: ['z'], edges: [...chain(3), { kind: 'chain', from: 'a2', to: 'z' }], horizon: 2 });
    w.begin('a0');
    w.end('a0');
    expect(w.begin('a1')).toMatchObject({ values: { a1: 0, a2: 1, z: 2 }, known: ['a1', 'a2', 'z'], shifted: 1, visits: 0 });
  });

  it('shifts under horizon 1', () => {
    const w = walkOf({ edges: chain(4), horizon: 1 });
    expect(w.begin('a0')).toMatchObject({ values: { a0: 0, a1: 1 }, known: ['a0', 'a1'] });
    w.end('a0');
    expect(w.begin('a1')).toMatchObject({ values: { a1: 0, a2: 1 }, changed: ['a1', 'a2'], known: ['a1', 'a2'], shifted: 1, visits: 0 });
    w.end('a1');
    expect(w.begin('a2')).toMatchObject({ values: { a2: 0, a3: 1 }, shifted: 2, visits: 0 });
  });

  it('an agent with a loop edge is no way on: a loop back into the walk, and a count loop at its end', () => {
    // a2 -> a3 and a probabilistic loop a2 -> a1: from a0 under horizon 3 the loop's offer to a1 (3) is turned
    // down by a1's 1, so the values look like a walk, but from a1 the loop offers a1 (running) 2.
    const back = walkOf({ edges: [...chain(6), { kind: 'loop', from: 'a2', to: 'a1', probability: 0.5 }], horizon: 3 });
    expect(back.begin('a0')).toMatchObject({ values: { a0: 0, a1: 1, a2: 2, a3: 3 }, known: ['a0', 'a1', 'a2', 'a3'] });
    back.end('a0');
    expect(back.begin('a1')).toMatchObject({ values: { a1: 0, a2: 1, a3: 2, a4: 3 }, shifted: 0 });
    expect(back.end('a1')).toMatchObject({ values: { a1: 2, a2: 1, a3: 2, a4: 3 }, changed: ['a1'], known: ['a2', 'a3', 'a4', 'a1'] });

    // a3 loops back to a2 twice before it goes on to a4: leaving costs 2 rounds of the 2-agent loop, so a4 is
    // 2 + 4 + 1 = 7 from a1 and out of horizon 3's reach. From a0 the values are a walk (a3, its last agent, is
    // at the horizon), but a3 has no way on: the begin of a1 searches.
    const counted = walkOf({ edges: [...chain(6), { kind: 'loop', from: 'a3', to: 'a2', count: 2 }], horizon: 3 });
    expect(counted.begin('a0')).toMatchObject({ values: { a0: 0, a1: 1, a2: 2, a3: 3 }, known: ['a0', 'a1', 'a2', 'a3'] });
    counted.end('a0');
    expect(counted.begin('a1')).toMatchObject({ values: { a1: 0, a2: 1, a3: 2 }, known: ['a1', 'a2', 'a3'], shifted: 0 });
    counted.end('a1');
    // From a2 the loop offers a2 (running) 2.
    expect(counted.begin('a2')).toMatchObject({ values: { a2: 0, a3: 1 }, known: ['a2', 'a3'], shifted: 0 });
    expect(counted.end('a2')).toMatchObject({ values: { a2: 2, a3: 1 }, changed: ['a2'], known: ['a3', 'a2'] });
  });

  it('a join member is no way on, even with rounds left', () => {
    // a2 and x join into a3; a0 starts 2 rounds. From a0 under horizon 2 the path a0 a1 a2 is a walk; a2's one
    // continuation is the join, which waits for x, and a2 is no terminal: the round does not follow it.
    const w = walkOf({ edges: [...chain(3), { kind: 'join', from: ['a2', 'x'], to: 'a3' }], start: 'a0', rounds: 2, horizon: 2 });
    expect(w.begin('a0')).toMatchObject({ values: { a0: 0, a1: 1, a2: 2 }, known: ['a0', 'a1', 'a2'] });
    w.end('a0');
    expect(w.begin('a1')).toMatchObject({ values: { a1: 0, a2: 1 }, known: ['a1', 'a2'], shifted: 0 });
  });

  it("a terminal's way on is the start while rounds are left, and nothing once they are not", () => {
    // a0 .. a4 with start a0 (agent id 1: z, never run, is 0): 2 rounds, horizon 2.
    const w = walkOf({ agents: ['z'], edges: chain(5), start: 'a0', rounds: 2, horizon: 2 });
    w.begin('a0');
    w.end('a0');
    expect(w.begin('a1')).toMatchObject({ values: { a1: 0, a2: 1, a3: 2 }, shifted: 1 });
    w.end('a1');
    // The walk's last agent a4 is terminal: its way on is the next round's a0.
    expect(w.begin('a2')).toMatchObject({ values: { a2: 0, a3: 1, a4: 2 }, shifted: 2 });
    w.end('a2');
    expect(w.begin('a3')).toMatchObject({ values: { a3: 0, a4: 1, a0: 2 }, known: ['a3', 'a4', 'a0'], shifted: 3, visits: 0 });
    w.end('a3');
    expect(w.begin('a4')).toMatchObject({ values: { a4: 0, a0: 1, a1: 2 }, known: ['a4', 'a0', 'a1'], shifted: 4, visits: 0 });
    w.end('a4');
    // The second (last) round begins: a search (the round count changed); no round is left after a4.
    expect(w.begin('a0')).toMatchObject({ values: { a0: 0, a1: 1, a2: 2 }, known: ['a0', 'a1', 'a2'], shifted: 4 });
    w.end('a0');
    expect(w.begin('a1')).toMatchObject({ values: { a1: 0, a2: 1, a3: 2 }, shifted: 5 });
    w.end('a1');
    expect(w.begin('a2')).toMatchObject({ values: { a2: 0, a3: 1, a4: 2 }, shifted: 6 });
    w.end('a2');
    // a4 has no way on in the last round: a search, which does not reach a0.
    const searched = w.begin('a3');
    expect(searched).toMatchObject({ values: { a3: 0, a4: 1 }, known: ['a3', 'a4'], shifted: 6 });
    expect(searched.visits).toBeGreaterThan(0);
  });

  it('a fan-out is no way on, whichever of its targets comes first', () => {
    // a2 fans out to a3 and back to a1: from a0 under horizon 3 a1 turns a2's offer (3) down, and the values
    // look like a walk; from a1, a2 offers a1 (running) 2.
    for (const to of [['a3', 'a1'], ['a1', 'a3']]) {
      const w = walkOf({ edges: [...chain(2), { kind: 'chain', from: 'a1', to: 'a2' }, { kind: 'fanout', from: 'a2', to }, ...chain(6).slice(3)], horizon: 3 });
      expect(w.begin('a0')).toMatchObject({ values: { a0: 0, a1: 1, a2: 2, a3: 3 }, known: ['a0', 'a1', 'a2', 'a3'] });
      w.end('a0');
      expect(w.begin('a1')).toMatchObject({ values: { a1: 0, a2: 1, a3: 2, a4: 3 }, shifted: 0 });
      expect(w.end('a1')).toMatchObject({ values: { a1: 2, a2: 1, a3: 2, a4: 3 }, changed: ['a1'] });
    }
  });
});

/**
 * StepTracker, exact (src/graph/tracker.ts): the minimum over live instances kept as counts of each value
 * (many instances begun, stepped and finished under reused names, finished while stale or not, two events
 * between reads), held after every read to a fresh tracker per instance: every agent's value, and the
 * changed agents exactly those whose minimum moved. And a walk's shift handed out as one count
 * (`takeShifted`), with the agents it moved the first of `knownIds()`, until the next event.
 */
import { describe, expect, it } from 'vitest';
import { AgentStepGraph } from '../../src/graph/graph.js';
import { StepTracker } from '../../src/graph/tracker.js';
import { chain, random, successors } from '../helpers/shaped-chains.js';

describe('StepTracker over many instances, exact', () => {
  it('keeps the minimum over instances begun, stepped and finished under reused names, and lists exactly the agents whose minimum moved', () => {
    let counted = 0;
    for (let seed = 1; seed <= 24; seed++) {
      const next = random(20261213 + seed);
      const size = 3 + (seed % 6);
      const graph = chain(size, seed % 4);
      const horizon = [Infinity, 1, 2, 3][seed % 4]!;
      const options = horizon === Infinity ? {} : { horizon };
      const tracker = new StepTracker(graph, options);
      const own = new Map<string, StepTracker>();
      const names = ['i0', 'i1', 'i2', 'i3'];
      const running = new Map<string, string | undefined>();
      const lastEnded = new Map<string, string>();
      let previous = new Map<string, number>();
      let events = 0;
      for (let step = 0; step < 150; step++) {
        const instance = names[Math.floor(next() * names.length)]!;
        const roll = next();
        if (roll < 0.07) {
          tracker.finish(instance);
          own.delete(instance);
          running.delete(instance);
          lastEnded.delete(instance);
        } else {
          let kind: 'begin' | 'end';
          let agent: string;
          if (roll < 0.14) {
            kind = next() < 0.5 ? 'begin' : 'end';
            agent = graph.agents[Math.floor(next() * graph.agents.length)]!;
          } else if (running.get(instance) !== undefined) {
            kind = 'end';
            agent = running.get(instance)!;
            running.set(instance, undefined);
            lastEnded.set(instance, agent);
          } else {
            kind = 'begin';
            const ended = lastEnded.get(instance);
            const options = ended === undefined ? [graph.start!] : successors(graph, ended);
            agent = options[Math.floor(next() * options.length)]!;
            running.set(instance, agent);
          }
          tracker[kind](instance, agent);
          if (!own.has(instance)) own.set(instance, new StepTracker(graph, options));
          own.get(instance)![kind](instance, agent);
        }
        events++;
        // Mostly read after each event; sometimes two or three events come first.
        if (next() < 0.3) continue;
        const expected = new Map<string, number>();
        for (const agent of graph.agents) {
          let min = Infinity;
          for (const each of own.values()) min = Math.min(min, each.steOf(agent) ?? Infinity);
          if (min !== Infinity) expected.set(agent, min);
        }
        const changed = tracker.takeChangedAgents();
        for (const agent of graph.agents) expect([agent, tracker.steOf(agent)]).toEqual([agent, expected.get(agent)]);
        expect([...tracker.snapshot()]).toEqual(graph.agents.filter((agent) => expected.has(agent)).map((agent) => [agent, expected.get(agent)]));
        const moved = graph.agents.filter((agent) => previous.get(agent) !== expected.get(agent));
        expect(new Set(changed).size).toBe(changed.length);
        // After one event exactly the agents whose minimum moved; after more, also any that moved and came back.
        if (events === 1) expect([...changed].sort()).toEqual(moved.sort());
        else expect(moved.filter((agent) => !changed.includes(agent))).toEqual([]);
        previous = expected;
        events = 0;
        if (own.size > 1) counted++;
      }
    }
    expect(counted).toBeGreaterThan(1_000);
  });

  it('an instance finished after a read leaves the others to be searched', () => {
    const graph = chain(4);
    const tracker = new StepTracker(graph);
    tracker.begin('i1', 'a0');
    tracker.begin('i2', 'a2');
    expect(tracker.steOf('a3')).toBe(1);
    tracker.finish('i2'); // not stale: nothing of it is listed to be searched
    tracker.end('i1', 'a0');
    tracker.begin('i1', 'a1');
    expect([...tracker.snapshot()]).toEqual([['a0', 3], ['a1', 0], ['a2', 1], ['a3', 2]]);
  });

  it('an instance finished after two events since its last read gives nothing', () => {
    const graph = chain(4);
    const tracker = new StepTracker(graph);
    tracker.begin('i1', 'a0');
    tracker.end('i1', 'a0');
    tracker.finish('i1');
    expect(tracker.takeChangedAgents()).toEqual([]);
    expect(graph.agents.map((agent) => tracker.steOf(agent))).toEqual([undefined, undefined, undefined, undefined]);
    tracker.begin('i2', 'a2');
    expect([...tracker.snapshot()]).toEqual([['a0', 2], ['a1', 3], ['a2', 0], ['a3', 1]]);
  });

  it('a second instance giving the values the first gives changes nothing; one giving a larger value changes nothing; leaving the larger value changes nothing', () => {
    const graph = chain(4);
    const tracker = new StepTracker(graph);
    tracker.begin('i1', 'a0');
    expect(tracker.takeChangedAgents()).toEqual(['a0', 'a1', 'a2', 'a3']);
    tracker.begin('i2', 'a0');
    expect(tracker.takeChangedAgents()).toEqual([]);
    tracker.finish('i2');
    expect(tracker.takeChangedAgents()).toEqual([]);
    tracker.begin('i3', 'a3'); // a0 at 1 (the next round), larger than i1's 0... and a3 at 0
    expect(tracker.takeChangedAgents()).toEqual(['a3']);
    tracker.begin('i4', 'a2'); // a3 at 1, a0 at 2: neither below the minimum
    expect(tracker.takeChangedAgents()).toEqual(['a2']);
    tracker.finish('i4');
    expect(tracker.takeChangedAgents()).toEqual(['a2']);
    tracker.finish('i1'); // a0 and a1 move to i3's values; a2 to i3's 3
    expect(tracker.takeChangedAgents().sort()).toEqual(['a0', 'a1', 'a2']);
    expect([...tracker.snapshot()]).toEqual([['a0', 1], ['a1', 2], ['a2', 3], ['a3', 0]]);
  });

  it('takes the smallest of the values left when the minimum leaves', () => {
    // Values of a3 given by three instances: 1, 2 and 3 (counted in that order), then the 1 leaves, then the 2.
    const graph = chain(6);
    const tracker = new StepTracker(graph);
    tracker.begin('i0', 'a2');
    tracker.begin('i1', 'a1');
    tracker.begin('i2', 'a0');
    expect(tracker.steOf('a3')).toBe(1);
    tracker.finish('i0');
    expect(tracker.steOf('a3')).toBe(2);
    tracker.finish('i1');
    expect(tracker.steOf('a3')).toBe(3);
  });
});

describe('StepTracker, a walk\'s shift handed out as one count', () => {
  it('gives the count of agents a chain step shifted, the first of knownIds, and lists only the agent that entered', () => {
    const graph = chain(10);
    const tracker = new StepTracker(graph, { horizon: 3 });
    tracker.begin('i', 'a0');
    expect(tracker.takeShifted()).toBe(0);
    expect(tracker.takeChangedAgents()).toEqual(['a0', 'a1', 'a2', 'a3']);
    tracker.end('i', 'a0');
    expect(tracker.takeShifted()).toBe(0);
    expect(tracker.takeChangedAgents()).toEqual(['a0']);
    for (let k = 1; k <= 4; k++) {
      tracker.begin('i', `a${k}`);
      // Read twice before the take (each read settles; nothing moves in between).
      expect([...tracker.snapshot()]).toEqual([0, 1, 2, 3].map((d) => [`a${k + d}`, d]));
      expect(tracker.steOf(`a${k + 3}`)).toBe(3);
      expect([...tracker.knownIds()]).toEqual([k, k + 1, k + 2, k + 3]);
      expect(tracker.takeShifted()).toBe(3);
      expect(tracker.takeShifted()).toBe(0);
      expect(tracker.takeChangedAgents()).toEqual([`a${k + 3}`]);
      tracker.end('i', `a${k}`);
      expect(tracker.takeShifted()).toBe(0);
      expect(tracker.takeChangedAgents()).toEqual([`a${k}`]);
    }
    expect(tracker.shiftedBegins).toBe(4);
  });

  it('a shift while changes are untaken lists its agents among them, once each, as a search would', () => {
    const graph = chain(12);
    const tracker = new StepTracker(graph, { horizon: 3 });
    const reference = new StepTracker(graph, { horizon: 3, inPlaceEnds: false });
    const both = (kind: 'begin' | 'end', agent: string) => {
      tracker[kind]('i', agent);
      reference[kind]('i', agent);
      expect([...tracker.snapshot()]).toEqual([...reference.snapshot()]); // a read that settles, not a take
    };
    both('begin', 'a0');
    both('end', 'a0');
    expect(tracker.takeChangedIds()).toEqual(reference.takeChangedIds());
    for (let k = 1; k <= 6; k++) {
      both('begin', `a${k}`);
      both('end', `a${k}`);
    }
    expect(tracker.shiftedBegins).toBe(6);
    const changed = tracker.takeChangedIds();
    expect(new Set(changed).size).toBe(changed.length);
    expect(changed.sort((a, b) => a - b)).toEqual(reference.takeChangedIds().sort((a, b) => a - b));
  });

  it('a chain step from a walk whose agents are not listed in the walk\'s order (two kept their value through a search) searches again', () => {
    // e branches to n0 or k, both leading to x: after the begin of n0, x and y keep their values (x at 2 by k,
    // then by n1) and are listed before n0 and n1, though the walk runs n0 n1 x y.
    const graph = new AgentStepGraph();
    graph.addEdge({ kind: 'branch', from: 'e', to: { n0: 0.5, k: 0.5 } });
    for (const [from, to] of [['n0', 'n1'], ['n1', 'x'], ['k', 'x'], ['x', 'y'], ['y', 'z'], ['z', 'w']]) graph.addEdge({ kind: 'chain', from: from!, to: to! });
    graph.start = 'e';
    const tracker = new StepTracker(graph, { horizon: 3 });
    const reference = new StepTracker(graph, { horizon: 3, inPlaceEnds: false });
    const id = (agent: string) => graph.idOf(agent)!;
    for (const [kind, agent] of [['begin', 'e'], ['end', 'e'], ['begin', 'n0'], ['end', 'n0'], ['begin', 'n1']] as const) {
      tracker[kind]('i', agent);
      reference[kind]('i', agent);
      expect(tracker.takeShifted()).toBe(0);
      expect(tracker.takeChangedIds()).toEqual(reference.takeChangedIds());
      expect([...tracker.knownIds()]).toEqual([...reference.knownIds()]);
    }
    expect(tracker.shiftedBegins).toBe(1); // the begin of n1 shifted the walk in progress.ts
    expect([...tracker.knownIds()]).toEqual(['n1', 'x', 'y', 'z'].map(id));
    expect([...tracker.snapshot()]).toEqual([...reference.snapshot()]);
  });
});

/**
 * WorkflowSte with private agents, exact (src/graph/workflow-ste.ts): the per-instance key table (`KeyTable`,
 * an Int32Array of slots into a pool that reuses freed slots), the clock moves, the relative log and the
 * agent lookup that guesses the last agent and its successors before the graph's map.
 *
 * The table test runs a fixed pseudo-random program (not scaled by KVFLOW_FC_SCALE): many instances begun,
 * stepped and finished under reused names, the graph grown part-way by more than twice its size, and after
 * every event each value, change, version, tag key, clock move and relative value checked against
 * AbsolutePrivateSte (a tracker per instance, absolute values: test/helpers/absolute-ste.ts).
 */
import { describe, expect, it, vi } from 'vitest';
import { AgentStepGraph } from '../../src/graph/graph.js';
import type { ClockedSteChanges, SteClock } from '../../src/graph/ste-clock.js';
import { topologyOf } from '../../src/graph/topology.js';
import { WorkflowSte } from '../../src/graph/workflow-ste.js';
import { AbsolutePrivateSte } from '../helpers/absolute-ste.js';
import { chain, random, successors } from '../helpers/shaped-chains.js';

type Source = WorkflowSte | AbsolutePrivateSte;

/** Everything a reader of the private source sees, checked after each event against the absolute reference. */
class Checker {
  /** Per key, its clock and value relative to it, as the relative log gave them. */
  readonly relative = new Map<string, { clock: SteClock; value: number }>();
  /** Every clock seen, with its value as of the last take. */
  readonly clocks = new Map<SteClock, number>();
  version: number;
  referenceVersion: number;
  moves = 0;

  constructor(
    readonly ste: WorkflowSte,
    readonly reference: AbsolutePrivateSte,
  ) {
    this.version = ste.version;
    this.referenceVersion = reference.version;
  }

  check(instances: readonly string[], agents: readonly string[]): void {
    const { ste, reference } = this;
    const take = ste.takeChanges() as ClockedSteChanges;
    expect([...take]).toEqual([...reference.takeChanges()]);
    expect(ste.version - this.version).toBe(reference.version - this.referenceVersion);
    this.version = ste.version;
    this.referenceVersion = reference.version;
    expect([...ste.snapshot()]).toEqual([...reference.snapshot()]);
    // The relative form: each note a new value for its key, and every clock that moved listed as moved.
    const { keys, clocks, values } = take.relative;
    for (let i = 0; i < keys.length; i++) {
      const clock = take.moves.clocks[clocks[i]!]!;
      const before = this.relative.get(keys[i]!);
      if (Number.isNaN(values[i]!)) {
        if (before === undefined) expect.fail(`${keys[i]} forgotten without a value`);
        this.relative.delete(keys[i]!);
      } else {
        if (before?.value === values[i]! && before.clock === clock) expect.fail(`${keys[i]} logged again at ${values[i]}`);
        this.relative.set(keys[i]!, { clock, value: values[i]! });
      }
    }
    for (let c = 0; c < take.moves.clocks.length; c++) {
      const clock = take.moves.clocks[c]!;
      if (take.moves.values[c] !== clock.value) expect(take.moves.values[c]).toBe(clock.value);
      const last = this.clocks.get(clock);
      if (take.moves.moved[c] !== (last !== undefined && last !== clock.value)) expect([take.moves.moved[c], last, clock.value]).toEqual([!take.moves.moved[c], last, clock.value]);
      if (take.moves.moved[c]) this.moves++;
    }
    for (const [clock, last] of this.clocks) if (clock.value !== last && !take.moves.clocks.includes(clock)) expect(clock.value).toBe(last);
    for (const clock of take.moves.clocks) this.clocks.set(clock, clock.value);
    const fromRelative = new Map([...this.relative].map(([key, { clock, value }]) => [key, value - clock.value]));
    expect(new Map([...fromRelative].sort())).toEqual(new Map([...reference.snapshot()].sort()));
    for (const instance of instances) for (const agent of agents) if (ste.tagKey(instance, agent) !== `${instance}/${agent}`) expect(ste.tagKey(instance, agent)).toBe(`${instance}/${agent}`);
  }
}

function apply(kind: 'begin' | 'end' | 'finish', instance: string, agent: string, ...sources: Source[]): void {
  for (const source of sources) {
    if (kind === 'finish') source.finish(instance);
    else source[kind](instance, agent);
  }
}

describe('WorkflowSte with private agents, exact', () => {
  it('keeps each instance\'s keys through many instances begun and finished under reused names and a graph grown past twice its size', () => {
    let grownReads = 0;
    let moves = 0;
    for (let seed = 1; seed <= 12; seed++) {
      const next = random(20261203 + seed);
      const size = 2 + (seed % 5);
      const graph = chain(size, seed % 4);
      const horizon = [Infinity, 1, 2, 3][seed % 4]!;
      const options = horizon === Infinity ? {} : { horizon };
      const ste = new WorkflowSte(graph, { shareAgents: false, ...options });
      const reference = new AbsolutePrivateSte(graph, options);
      // Its key map is built on its first snapshot read (WorkflowSte.#keyedMap): here part-way through.
      const readLate = new WorkflowSte(graph, { shareAgents: false, ...options });
      const readAt = 20 + Math.floor(next() * 80);
      const checker = new Checker(ste, reference);
      const names = ['i0', 'i1', 'i2', 'i3', 'i4'];
      const running = new Map<string, string | undefined>();
      const lastEnded = new Map<string, string>();
      let grown = false;
      for (let step = 0; step < 160; step++) {
        if (step === 60 && !grown) {
          // Live instances' tables were made for `size` agents: ids up to 3 * size + 2 now come (Int32Array growth).
          grown = true;
          const last = `a${size - 1}`;
          const added = 2 * size + 3;
          graph.addEdge({ kind: 'chain', from: last, to: 'b0' });
          for (let i = 0; i + 1 < added; i++) graph.addEdge({ kind: 'chain', from: `b${i}`, to: `b${i + 1}` });
        }
        const instance = names[Math.floor(next() * names.length)]!;
        const roll = next();
        let kind: 'begin' | 'end' | 'finish';
        let agent: string;
        if (roll < 0.06) {
          kind = 'finish';
          agent = '';
          running.delete(instance);
          lastEnded.delete(instance);
        } else if (roll < 0.12) {
          // Any event, in or out of order.
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
          agent = options[Math.floor(next() * options.length)] ?? graph.start!;
          running.set(instance, agent);
        }
        apply(kind, instance, agent, ste, reference, readLate);
        checker.check(names, graph.agents);
        if (step >= readAt) {
          expect([...readLate.snapshot()]).toEqual([...reference.snapshot()]);
          if (grown) grownReads++;
        }
      }
      for (const instance of names) apply('finish', instance, '', ste, reference, readLate);
      checker.check(names, graph.agents);
      expect([...readLate.snapshot()]).toEqual([]);
      expect(ste.snapshot().size).toBe(0);
      moves += checker.moves;
    }
    // The program did what it is for: reads after the growth, and clocks that moved.
    expect(grownReads).toBeGreaterThan(500);
    expect(moves).toBeGreaterThan(50);
  });

  it('keeps keys of agents added after the instance started, one id past its table and many past it', () => {
    for (const added of [1, 2, 5]) {
      const graph = new AgentStepGraph();
      graph.addEdge({ kind: 'chain', from: 'a0', to: 'a1' });
      graph.start = 'a0';
      const ste = new WorkflowSte(graph, { shareAgents: false });
      const reference = new AbsolutePrivateSte(graph);
      const checker = new Checker(ste, reference);
      apply('begin', 'i', 'a0', ste, reference); // i's table has 2 slots
      checker.check(['i'], graph.agents);
      // a1 -> b0 -> ... : b(k) has id k + 2, beyond i's table.
      graph.addEdge({ kind: 'chain', from: 'a1', to: 'b0' });
      for (let k = 0; k + 1 < added; k++) graph.addEdge({ kind: 'chain', from: `b${k}`, to: `b${k + 1}` });
      apply('end', 'i', 'a0', ste, reference);
      checker.check(['i'], graph.agents);
      apply('begin', 'i', 'a1', ste, reference);
      checker.check(['i'], graph.agents);
      apply('end', 'i', 'a1', ste, reference);
      checker.check(['i'], graph.agents);
      apply('begin', 'i', `b${added - 1}`, ste, reference);
      checker.check(['i'], graph.agents);
      apply('finish', 'i', '', ste, reference);
      checker.check(['i'], graph.agents);
      expect(ste.snapshot().size).toBe(0);
    }
  });

  it('moves an instance\'s clock by the begun agent\'s STE on a chain step, and logs relative values only for agents entering or leaving reach', () => {
    const graph = chain(8, 0);
    const ste = new WorkflowSte(graph, { shareAgents: false, horizon: 2 });
    ste.begin('i', 'a0');
    const first = ste.takeChanges() as ClockedSteChanges;
    expect([...first]).toEqual([['i/a0', 0], ['i/a1', 1], ['i/a2', 2]]);
    expect(first.relative).toEqual({ keys: ['i/a0', 'i/a1', 'i/a2'], clocks: [0, 0, 0], values: [0, 1, 2] });
    const clock = first.moves.clocks[0]!;
    expect(first.moves).toEqual({ clocks: [clock], values: [0], moved: [false] });
    ste.end('i', 'a0');
    ste.takeChanges();
    for (let k = 1; k <= 3; k++) {
      ste.begin('i', `a${k}`);
      const take = ste.takeChanges() as ClockedSteChanges;
      // Every absolute value moved one step nearer; relative to the clock (moved by 1), only a(k + 2) entered.
      expect([...take]).toEqual([[`i/a${k}`, 0], [`i/a${k + 1}`, 1], [`i/a${k + 2}`, 2]]);
      expect(take.relative).toEqual({ keys: [`i/a${k + 2}`], clocks: [0], values: [k + 2] });
      expect(take.moves).toEqual({ clocks: [clock], values: [k], moved: [true] });
      ste.end('i', `a${k}`);
      const ended = ste.takeChanges() as ClockedSteChanges;
      // An end moves no clock.
      expect(ended.moves.moved).toEqual(ended.moves.clocks.map(() => false));
    }
  });

  it('starts a clock that reached 2^48 again from 0, and every value stays exact', () => {
    // `x` has no edge and the graph no start: after x ends, the instance knows no agent and its clock can be set
    // near its bound without putting any key out of step (standing in for 2^48 steps).
    const graph = chain(6, 0);
    graph.start = undefined;
    graph.addAgent('x');
    const ste = new WorkflowSte(graph, { shareAgents: false });
    const reference = new AbsolutePrivateSte(graph);
    const checker = new Checker(ste, reference);
    apply('begin', 'i', 'x', ste, reference);
    const clock = (ste.takeChanges() as ClockedSteChanges).moves.clocks[0]!;
    reference.takeChanges();
    checker.version = ste.version;
    checker.referenceVersion = reference.version;
    checker.relative.set('i/x', { clock, value: 0 });
    checker.clocks.set(clock, 0);
    apply('end', 'i', 'x', ste, reference);
    checker.check(['i'], graph.agents);
    expect(ste.snapshot().size).toBe(0);
    clock.value = 2 ** 48 - 2;
    checker.clocks.set(clock, clock.value);
    const seen: number[] = [];
    for (let k = 0; k < 5; k++) {
      apply('begin', 'i', `a${k}`, ste, reference);
      checker.check(['i'], graph.agents);
      seen.push(clock.value);
      apply('end', 'i', `a${k}`, ste, reference);
      checker.check(['i'], graph.agents);
    }
    // a0 had no value: no move; then +1, +1 up to 2^48 (not past it), then 0, 1.
    expect(seen).toEqual([2 ** 48 - 2, 2 ** 48 - 1, 2 ** 48, 0, 1]);
  });

  it('finds an event\'s agent without the graph\'s map when it is the last agent, its one successor, one of its first four successors or the start', () => {
    const graph = new AgentStepGraph();
    graph.addEdge({ kind: 'chain', from: 'a0', to: 'a1' });
    graph.addEdge({ kind: 'fanout', from: 'a1', to: ['f0', 'f1', 'f2', 'f3'] });
    graph.addEdge({ kind: 'chain', from: 'f3', to: 'z' });
    graph.start = 'a0';
    topologyOf(graph); // compiled (and cached) before counting: compiling looks every agent up
    for (const shareAgents of [false, true]) {
      const ste = new WorkflowSte(graph, { shareAgents });
      const idOf = vi.spyOn(graph, 'idOf');
      const lookups = (kind: 'begin' | 'end', agent: string): number => {
        const before = idOf.mock.calls.length;
        ste[kind]('i', agent);
        return idOf.mock.calls.length - before;
      };
      expect(lookups('begin', 'a0')).toBe(1); // the first event: the map
      expect(lookups('end', 'a0')).toBe(0); // the last agent (id 0)
      expect(lookups('begin', 'a1')).toBe(0); // its one successor
      expect(lookups('end', 'a1')).toBe(0);
      expect(lookups('begin', 'f3')).toBe(0); // one of its successors
      expect(lookups('begin', 'f0')).toBe(1); // f0 is not f3's successor
      expect(lookups('end', 'f0')).toBe(0);
      expect(lookups('begin', 'a1')).toBe(1);
      expect(lookups('begin', 'f2')).toBe(0);
      expect(lookups('begin', 'a0')).toBe(0); // the start
      expect(lookups('begin', 'stranger')).toBe(1); // not in the graph: the last agent stays a0
      expect(lookups('begin', 'a0')).toBe(0);
      expect(lookups('begin', 'z')).toBe(1);
      expect(ste.tagKey('i', 'z')).toBe(shareAgents ? 'z' : 'i/z');
      expect(idOf.mock.calls.length).toBe(5);
      idOf.mockRestore();
    }
  });

  it('starts with no last agent: the first lookup uses the graph\'s map, whichever agent comes', () => {
    // a0 -> a1 -> a2: a first event of a1 or a2 must not be taken for a guess from agent 1.
    for (const first of ['a1', 'a2']) {
      const graph = chain(3, 0);
      topologyOf(graph);
      const ste = new WorkflowSte(graph, { shareAgents: false });
      const idOf = vi.spyOn(graph, 'idOf');
      ste.begin('i', first);
      expect(idOf).toHaveBeenCalledTimes(1);
      idOf.mockRestore();
    }
  });

  it('ignores an undeclared agent after a declared one in a graph of revision 1', () => {
    const graph = new AgentStepGraph();
    graph.addAgent('a');
    expect(graph.revision).toBe(1);
    const ste = new WorkflowSte(graph, { shareAgents: false });
    ste.begin('i', 'a');
    ste.begin('i', 'stranger');
    expect([...ste.snapshot()]).toEqual([['i/a', 0]]);
  });
});

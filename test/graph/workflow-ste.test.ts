/**
 * The STE plumbing between a workflow's step graph and the caches: WorkflowSte (shared or per-instance
 * agents), the change log of SteTable, and SteChangeFeed (the source's own changes, or a diff of snapshots).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AgentStepGraph } from '../../src/graph/graph.js';
import { SteChangeFeed } from '../../src/graph/ste-feed.js';
import { SteTable } from '../../src/graph/ste-table.js';
import { WorkflowSte } from '../../src/graph/workflow-ste.js';
import { StepTracker } from '../../src/graph/tracker.js';
import type { SteSource } from '../../src/types.js';
import { runs } from '../helpers/runs.js';

/** plan -> code -> test. */
function chain(): AgentStepGraph {
  const graph = new AgentStepGraph();
  graph.addEdge({ kind: 'chain', from: 'plan', to: 'code' });
  graph.addEdge({ kind: 'chain', from: 'code', to: 'test' });
  graph.start = 'plan';
  return graph;
}

const entries = (map: ReadonlyMap<string, number | undefined> | undefined) => (map ? Object.fromEntries(map) : map);

describe('SteTable', () => {
  it('logs each changed key once with its latest value, and moves its version only on a change', () => {
    const table = new SteTable();
    expect(table.version).toBe(0);
    table.set('a', 1);
    table.set('a', 1);
    expect(table.version).toBe(1);
    table.set('b', 2);
    table.set('a', 3);
    expect(table.version).toBe(3);
    expect(Object.fromEntries(table.values)).toEqual({ a: 3, b: 2 });
    expect(entries(table.takeChanges())).toEqual({ a: 3, b: 2 });
    expect(entries(table.takeChanges())).toEqual({});
    table.set('b', undefined);
    table.set('c', undefined); // never known: no change
    expect(table.version).toBe(4);
    expect(Object.fromEntries(table.values)).toEqual({ a: 3 });
    expect(entries(table.takeChanges())).toEqual({ b: undefined });
  });
});

describe('WorkflowSte', () => {
  it('with shared agents, keys are agent names and take the minimum over live instances', () => {
    const ste = new WorkflowSte(chain(), { shareAgents: true });
    expect(ste.tagKey('i1', 'code')).toBe('code');
    ste.begin('i1', 'plan');
    expect(entries(ste.snapshot())).toEqual({ plan: 0, code: 1, test: 2 });
    expect(entries(ste.takeChanges())).toEqual({ plan: 0, code: 1, test: 2 });
    ste.begin('i2', 'code');
    expect(entries(ste.takeChanges())).toEqual({ code: 0, test: 1 });
    ste.end('i2', 'code');
    expect(entries(ste.snapshot())).toEqual({ plan: 0, code: 1, test: 1 });
    ste.finish('i2');
    expect(entries(ste.takeChanges())).toEqual({ code: 1, test: 2 });
    ste.finish('i1');
    expect(entries(ste.snapshot())).toEqual({});
    expect(entries(ste.takeChanges())).toEqual({ plan: undefined, code: undefined, test: undefined });
  });

  it('with private agents, keys are instance/agent and each instance keeps its own', () => {
    const ste = new WorkflowSte(chain(), { shareAgents: false });
    expect(ste.tagKey('i1', 'code')).toBe('i1/code');
    ste.begin('i1', 'plan');
    ste.begin('i2', 'code');
    // The terminal test leads back to plan while rounds are left: i2's plan is test + 1.
    expect(entries(ste.snapshot())).toEqual({ 'i1/plan': 0, 'i1/code': 1, 'i1/test': 2, 'i2/plan': 2, 'i2/code': 0, 'i2/test': 1 });
    ste.takeChanges();
    ste.end('i1', 'plan');
    ste.begin('i1', 'code');
    expect(entries(ste.takeChanges())).toEqual({ 'i1/plan': 2, 'i1/code': 0, 'i1/test': 1 });
    const version = ste.version;
    ste.finish('i2');
    expect(ste.version).toBe(version + 3);
    expect(entries(ste.takeChanges())).toEqual({ 'i2/plan': undefined, 'i2/code': undefined, 'i2/test': undefined });
    ste.finish('i2'); // already gone
    ste.finish('nobody');
    expect(ste.version).toBe(version + 3);
  });

  it("with private agents, the snapshot reads as a Map of absolute values through the instances' clocks", () => {
    const ste = new WorkflowSte(chain(), { shareAgents: false, horizon: 2 });
    ste.begin('i1', 'plan');
    ste.end('i1', 'plan');
    ste.begin('i1', 'code'); // a chain step: i1's clock moves
    ste.begin('i2', 'test');
    const snapshot = ste.snapshot();
    // i1: code runs, test 1, plan 2 (the next round); i2: test runs, plan 1 (the next round), code 2.
    expect(snapshot.size).toBe(6);
    expect(snapshot.get('i1/code')).toBe(0);
    expect(snapshot.get('i1/plan')).toBe(2);
    expect(snapshot.get('i3/plan')).toBeUndefined();
    expect(snapshot.has('i2/plan')).toBe(true);
    expect(snapshot.has('i3/plan')).toBe(false);
    const expected: [string, number][] = [['i1/code', 0], ['i1/test', 1], ['i1/plan', 2], ['i2/test', 0], ['i2/plan', 1], ['i2/code', 2]];
    expect([...snapshot.keys()].sort()).toEqual(expected.map(([key]) => key).sort());
    const byKey = new Map(expected);
    expect([...snapshot.values()]).toEqual([...snapshot.keys()].map((key) => byKey.get(key)));
    expect(new Map(snapshot.entries())).toEqual(byKey);
    expect(new Map(snapshot)).toEqual(byKey);
    const seen: [string, number][] = [];
    const self = {};
    snapshot.forEach(function (this: unknown, value, key, map) {
      expect(map).toBe(snapshot);
      expect(this).toBe(self);
      seen.push([key, value]);
    }, self);
    expect(new Map(seen)).toEqual(byKey);
    expect(seen.map(([key]) => key)).toEqual([...snapshot.keys()]);
  });

  it('finds each event\'s agent, whatever order they come in and however the graph grows (its lookup guesses the last agent and its successors first)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.nat({ max: 5 }), { minLength: 6, maxLength: 6 }),
        fc.array(fc.record({ kind: fc.constantFrom('begin', 'end', 'grow'), instance: fc.integer({ min: 0, max: 1 }), agent: fc.nat({ max: 7 }) }), { maxLength: 40 }),
        fc.boolean(),
        (successors, events, shareAgents) => {
          // a0..a5 each lead to one successor (cycles included); a6 and a7 join the graph part-way.
          const graph = new AgentStepGraph();
          for (let i = 0; i < 6; i++) graph.addEdge({ kind: 'chain', from: `a${i}`, to: `a${successors[i]!}` });
          graph.start = 'a0';
          const ste = new WorkflowSte(graph, { shareAgents, horizon: 4 });
          const trackers = new Map<string, StepTracker>();
          const trackerOf = (instance: string) => {
            const key = shareAgents ? '' : instance;
            if (!trackers.has(key)) trackers.set(key, new StepTracker(graph, { horizon: 4 }));
            return trackers.get(key)!;
          };
          let grown = 0;
          for (const event of events) {
            const instance = `i${event.instance}`;
            const agent = `a${event.agent}`;
            if (event.kind === 'grow') {
              if (grown < 2) graph.addEdge({ kind: 'chain', from: `a${6 + grown}`, to: `a${grown++}` });
              continue;
            }
            ste[event.kind](instance, agent);
            if (graph.idOf(agent) !== undefined) trackerOf(instance)[event.kind](instance, agent);
            const expected = new Map<string, number>();
            for (const [owner, tracker] of trackers) {
              for (const [name, value] of tracker.snapshot()) expected.set(shareAgents ? name : `${owner}/${name}`, value);
            }
            expect(new Map([...ste.snapshot()].sort())).toEqual(new Map([...expected].sort()));
            expect(ste.tagKey(instance, agent)).toBe(shareAgents ? agent : `${instance}/${agent}`);
          }
        },
      ),
      { numRuns: runs(150), seed: 20261202 },
    );
  });

  it('ignores agents the graph does not declare', () => {
    for (const shareAgents of [true, false]) {
      const ste = new WorkflowSte(chain(), { shareAgents });
      ste.begin('i1', 'stranger');
      ste.end('i1', 'stranger');
      expect([ste.version, entries(ste.snapshot())]).toEqual([0, {}]);
    }
  });
});

describe('SteChangeFeed', () => {
  it("hands out the source's own change log, and nothing while its version stands still", () => {
    const ste = new WorkflowSte(chain(), { shareAgents: true });
    const feed = new SteChangeFeed(ste);
    expect(entries(feed.take())).toEqual({});
    expect(feed.take()).toBeUndefined();
    ste.begin('i1', 'plan');
    expect(entries(feed.take())).toEqual({ plan: 0, code: 1, test: 2 });
    expect(feed.take()).toBeUndefined();
  });

  it('diffs snapshots for a source without a change log: new, changed and vanished keys', () => {
    let values = new Map<string, number>();
    const source: SteSource = { version: 0, begin() {}, end() {}, finish() {}, snapshot: () => values };
    const feed = new SteChangeFeed(source);
    expect(entries(feed.take())).toEqual({}); // the first look sees version 0 as news
    expect(feed.take()).toBeUndefined();
    values = new Map([['a', 1], ['b', 2]]);
    (source as { version: number }).version = 1;
    expect(entries(feed.take())).toEqual({ a: 1, b: 2 });
    values = new Map([['a', 1], ['c', 3]]);
    (source as { version: number }).version = 2;
    expect(entries(feed.take())).toEqual({ c: 3, b: undefined });
    (source as { version: number }).version = 3;
    expect(entries(feed.take())).toEqual({});
  });
});

import { describe, expect, it } from 'vitest';
import { AgentStepGraph } from '../../src/graph/graph.js';
import { StepTracker } from '../../src/graph/tracker.js';
import { generateRequests } from '../../src/workload/generate.js';
import { loadWorkflowSpec, parseWorkflowSpec } from '../../src/workload/spec.js';
import { barrierGraph } from '../helpers/graphs.js';

/** a0 -> a1 -> ... -> a(n-1), closed into a cycle by an explicit chain edge back to a0. */
function cycleGraph(n: number): AgentStepGraph {
  const graph = new AgentStepGraph();
  for (let i = 0; i < n; i++) graph.addEdge({ kind: 'chain', from: `a${i}`, to: `a${(i + 1) % n}` });
  graph.start = 'a0';
  return graph;
}

/** Sequential agents with the given STE each, for compact expectations. */
function sequence(from: number, to: number, first: number): Record<string, number> {
  return Object.fromEntries(Array.from({ length: to - from + 1 }, (_, i) => [`a${from + i}`, first + i]));
}

function steps(tracker: StepTracker): Record<string, number> {
  return Object.fromEntries(tracker.snapshot());
}

describe('StepTracker on a sequential cycle of 10 agents', () => {
  it('counts steps around the cycle as agents begin and end', () => {
    const tracker = new StepTracker(cycleGraph(10));
    tracker.begin('wf', 'a0');
    expect(steps(tracker)).toEqual(sequence(0, 9, 0));

    tracker.end('wf', 'a0');
    // a0 just ended: it still launches a1, and itself comes round again after the other nine.
    expect(steps(tracker)).toEqual({ ...sequence(1, 9, 1), a0: 10 });

    tracker.begin('wf', 'a1');
    expect(steps(tracker)).toEqual({ ...sequence(1, 9, 0), a0: 9 });

    for (let i = 1; i < 7; i++) {
      tracker.end('wf', `a${i}`);
      tracker.begin('wf', `a${i + 1}`);
    }
    expect(steps(tracker)).toEqual({ ...sequence(7, 9, 0), ...sequence(0, 6, 3) });
  });

  it('leads terminal agents back to start only while the instance has rounds left', () => {
    const spec = parseWorkflowSpec(
      {
        name: 'seq',
        agents: Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`a${i}`, { fixed: 32, dynamic: 1, output: 1 }])),
        edges: Array.from({ length: 9 }, (_, i) => ({ from: `a${i}`, to: `a${i + 1}` })),
        start: 'a0',
        rounds: 2,
      },
      'seq.json',
    );
    const tracker = new StepTracker(AgentStepGraph.fromSpec(spec));
    const runRound = () => {
      for (let i = 0; i < 9; i++) {
        tracker.begin('wf', `a${i}`);
        tracker.end('wf', `a${i}`);
      }
      tracker.begin('wf', 'a9');
    };
    runRound();
    expect(steps(tracker)).toEqual({ a9: 0, ...sequence(0, 8, 1) });
    tracker.end('wf', 'a9');
    expect(tracker.steOf('a0')).toBe(1);

    runRound();
    // Last round: nothing follows a9, so no other agent has a known future in this instance.
    expect(steps(tracker)).toEqual({ a9: 0 });
    tracker.end('wf', 'a9');
    expect(steps(tracker)).toEqual({});
  });
});

describe('StepTracker at a barrier', () => {
  /** planner fans out to w1 and x1; x1 -> x2; reviewer waits for w1 and x2. */
  function barrierTracker(): StepTracker {
    return new StepTracker(barrierGraph());
  }

  it('takes the slowest member plus one, counting an arrived member as ready', () => {
    const tracker = barrierTracker();
    tracker.begin('wf', 'planner');
    expect(steps(tracker)).toEqual({ planner: 0, w1: 1, x1: 1, x2: 2, reviewer: 3 });

    tracker.end('wf', 'planner');
    tracker.begin('wf', 'w1');
    // x1 was announced by the fan-out when its sibling began.
    expect(steps(tracker)).toEqual({ w1: 0, x1: 1, x2: 2, reviewer: 3 });

    tracker.begin('wf', 'x1');
    expect(steps(tracker)).toEqual({ w1: 0, x1: 0, x2: 1, reviewer: 2 });

    tracker.end('wf', 'w1');
    // w1 arrived at the barrier; the reviewer still waits for x2.
    expect(steps(tracker)).toEqual({ x1: 0, x2: 1, reviewer: 2 });

    tracker.end('wf', 'x1');
    tracker.begin('wf', 'x2');
    expect(steps(tracker)).toEqual({ x2: 0, reviewer: 1 });

    tracker.end('wf', 'x2');
    expect(steps(tracker)).toEqual({ reviewer: 1 });
    tracker.begin('wf', 'reviewer');
    expect(steps(tracker)).toEqual({ reviewer: 0 });
  });
});

describe('StepTracker at a branch', () => {
  it('gives every target predecessor + 1 and any-predecessor agents the minimum', () => {
    const graph = new AgentStepGraph();
    graph.addEdge({ kind: 'branch', from: 'a', to: { b: 0.9, c: 0.1 } });
    graph.addEdge({ kind: 'chain', from: 'b', to: 'd' });
    graph.addEdge({ kind: 'chain', from: 'c', to: 'e' });
    graph.addEdge({ kind: 'chain', from: 'e', to: 'd' });
    graph.start = 'a';
    graph.rounds = 1;
    const tracker = new StepTracker(graph);
    tracker.begin('wf', 'a');
    expect(steps(tracker)).toEqual({ a: 0, b: 1, c: 1, e: 2, d: 2 });
    tracker.end('wf', 'a');
    expect(steps(tracker)).toEqual({ b: 1, c: 1, e: 2, d: 2 });
    tracker.begin('wf', 'c');
    // The branch chose c: b is no longer reachable, d is now behind e.
    expect(steps(tracker)).toEqual({ c: 0, e: 1, d: 2 });
  });
});

describe('StepTracker in loops', () => {
  /** a -> b, b loops back to a, b exits to c. */
  function loopTracker(bound: { count: number } | { probability: number }): StepTracker {
    const graph = new AgentStepGraph();
    graph.addEdge({ kind: 'chain', from: 'a', to: 'b' });
    graph.addEdge({ kind: 'loop', from: 'b', to: 'a', ...bound });
    graph.addEdge({ kind: 'chain', from: 'b', to: 'c' });
    graph.start = 'a';
    graph.rounds = 1;
    return new StepTracker(graph);
  }

  it('adds the remaining iterations of a count loop to its exit', () => {
    const tracker = loopTracker({ count: 2 });
    tracker.begin('wf', 'a');
    // a b a b a b c: the back edge is taken twice, each pass is 2 steps.
    expect(steps(tracker)).toEqual({ a: 0, b: 1, c: 6 });
    tracker.end('wf', 'a');
    tracker.begin('wf', 'b');
    expect(steps(tracker)).toEqual({ b: 0, a: 1, c: 5 });

    tracker.end('wf', 'b');
    tracker.begin('wf', 'a'); // first iteration
    expect(steps(tracker)).toEqual({ a: 0, b: 1, c: 4 });

    tracker.end('wf', 'a');
    tracker.begin('wf', 'b');
    tracker.end('wf', 'b');
    tracker.begin('wf', 'a'); // second and last iteration
    expect(steps(tracker)).toEqual({ a: 0, b: 1, c: 2 });

    tracker.end('wf', 'a');
    tracker.begin('wf', 'b');
    // The loop is spent: a has no known future, c is next.
    expect(steps(tracker)).toEqual({ b: 0, c: 1 });
  });

  it('counts the loop afresh when it is entered again in a later round', () => {
    const graph = new AgentStepGraph();
    graph.addEdge({ kind: 'chain', from: 'a', to: 'b' });
    graph.addEdge({ kind: 'loop', from: 'b', to: 'b', count: 1 });
    graph.start = 'a';
    const tracker = new StepTracker(graph);
    const run = (agent: string) => {
      tracker.begin('wf', agent);
      tracker.end('wf', agent);
    };
    run('a');
    run('b');
    run('b'); // the loop is spent, b is terminal: the round ends
    tracker.begin('wf', 'a');
    expect(steps(tracker)).toEqual({ a: 0, b: 1 });
    tracker.end('wf', 'a');
    tracker.begin('wf', 'b');
    // b runs now and once more before the round ends (a spent counter would make a 1 step away).
    expect(steps(tracker)).toEqual({ b: 0, a: 2 });
  });

  it('treats a probabilistic loop with the minimum rule', () => {
    const tracker = loopTracker({ probability: 0.5 });
    tracker.begin('wf', 'a');
    expect(steps(tracker)).toEqual({ a: 0, b: 1, c: 2 });
    tracker.end('wf', 'a');
    tracker.begin('wf', 'b');
    expect(steps(tracker)).toEqual({ b: 0, a: 1, c: 1 });
    tracker.end('wf', 'b');
    tracker.begin('wf', 'a');
    expect(steps(tracker)).toEqual({ a: 0, b: 1, c: 2 });
  });
});

describe('StepTracker on workloads/fanout-barrier.json', () => {
  it('follows the review loop and the rounds', async () => {
    const spec = await loadWorkflowSpec(new URL('../../workloads/fanout-barrier.json', import.meta.url).pathname);
    const tracker = new StepTracker(AgentStepGraph.fromSpec(spec));
    const workers = ['worker0', 'worker1', 'worker2'];
    /** planner, the three workers in parallel, then the reviewer left running. */
    const pass = () => {
      tracker.begin('wf', 'planner');
      tracker.end('wf', 'planner');
      for (const worker of workers) tracker.begin('wf', worker);
      for (const worker of workers) tracker.end('wf', worker);
      tracker.begin('wf', 'reviewer');
    };
    const workersAt = (ste: number) => Object.fromEntries(workers.map((worker) => [worker, ste]));

    pass();
    expect(steps(tracker)).toEqual({ reviewer: 0, planner: 1, ...workersAt(2) });
    tracker.end('wf', 'reviewer');
    tracker.begin('wf', 'planner');
    // The planner began through the loop's back edge (first of two).
    expect(steps(tracker)).toEqual({ planner: 0, ...workersAt(1), reviewer: 2 });
    tracker.end('wf', 'planner');
    for (const worker of workers) tracker.begin('wf', worker);
    for (const worker of workers) tracker.end('wf', worker);
    tracker.begin('wf', 'reviewer');
    tracker.end('wf', 'reviewer');
    pass();
    // The loop is spent; round 2 of 2 follows.
    expect(steps(tracker)).toEqual({ reviewer: 0, planner: 1, ...workersAt(2) });
    tracker.end('wf', 'reviewer');
    for (let i = 0; i < 3; i++) {
      if (i > 0) tracker.end('wf', 'reviewer');
      pass();
    }
    // Last pass of the last round: nothing follows.
    expect(steps(tracker)).toEqual({ reviewer: 0 });
  });
});

describe('StepTracker following generated workflows', () => {
  it.each(['sequential-10.json', 'fanout-barrier.json', 'branch-loop.json'])(
    '%s: every agent is 1 step away just before it begins',
    async (file) => {
      const spec = await loadWorkflowSpec(new URL(`../../workloads/${file}`, import.meta.url).pathname);
      const tracker = new StepTracker(AgentStepGraph.fromSpec(spec));
      const instance = generateRequests(spec, { seed: 5 }).filter((request) => request.workflow === 'wf0');
      instance.forEach((request, index) => {
        if (index > 0) expect(tracker.steOf(request.agent!), request.id).toBe(1);
        tracker.begin('wf0', request.agent!);
        tracker.end('wf0', request.agent!);
      });
      // After the last round nothing is pending.
      expect(steps(tracker)).toEqual({});
    },
  );
});

describe('StepTracker across instances', () => {
  it('takes the minimum over live instances and forgets finished ones', () => {
    const tracker = new StepTracker(cycleGraph(10));
    tracker.begin('x', 'a0');
    tracker.begin('y', 'a5');
    expect(tracker.steOf('a1')).toBe(1);
    expect(tracker.steOf('a6')).toBe(1);
    expect(tracker.steOf('a9')).toBe(4);
    expect(tracker.steOf('a4')).toBe(4);

    tracker.finish('y');
    expect(steps(tracker)).toEqual(sequence(0, 9, 0));
    tracker.finish('x');
    expect(steps(tracker)).toEqual({});
  });

  it('answers undefined for unknown agents and rejects events for them', () => {
    const tracker = new StepTracker(cycleGraph(3));
    tracker.begin('wf', 'a0');
    expect(tracker.steOf('nobody')).toBeUndefined();
    expect(() => tracker.begin('wf', 'nobody')).toThrow('unknown agent "nobody"');
  });

  it('moves its version only when STE may have changed', () => {
    const graph = cycleGraph(3);
    const tracker = new StepTracker(graph);
    const initial = tracker.version;
    tracker.steOf('a0');
    tracker.snapshot();
    expect(tracker.version).toBe(initial);
    tracker.begin('wf', 'a0');
    const afterBegin = tracker.version;
    expect(afterBegin).toBeGreaterThan(initial);
    tracker.finish('unknown instance');
    expect(tracker.version).toBe(afterBegin);
    graph.addEdge({ kind: 'fanout', from: 'z', to: ['a1'] });
    expect(tracker.version).toBeGreaterThan(afterBegin);
  });

  it('follows a graph that grows while instances are live', () => {
    const graph = new AgentStepGraph();
    graph.addEdge({ kind: 'chain', from: 'plan', to: 'code' });
    const tracker = new StepTracker(graph);
    tracker.begin('wf', 'plan');
    expect(steps(tracker)).toEqual({ plan: 0, code: 1 });
    graph.addEdge({ kind: 'chain', from: 'code', to: 'test' });
    expect(steps(tracker)).toEqual({ plan: 0, code: 1, test: 2 });
  });
});

describe('AgentStepGraph', () => {
  it('builds from a spec with agents in declaration order', () => {
    const spec = parseWorkflowSpec(
      {
        name: 'g',
        agents: { p: { fixed: 1, dynamic: 1, output: 1 }, w: { fixed: 1, dynamic: 1, output: 1 }, r: { fixed: 1, dynamic: 1, output: 1 } },
        edges: [{ from: 'p', to: 'w' }, { from: 'w', to: 'r' }, { kind: 'loop', from: 'r', to: 'p', count: 2 }],
        start: 'p',
        rounds: 3,
      },
      'g.json',
    );
    const graph = AgentStepGraph.fromSpec(spec);
    expect(graph.agents).toEqual(['p', 'w', 'r']);
    expect(graph.edges).toEqual(spec.edges);
    expect([graph.start, graph.rounds]).toEqual(['p', 3]);
  });

  it('allows one non-loop and one loop edge per agent', () => {
    const graph = new AgentStepGraph();
    graph.addEdge({ kind: 'chain', from: 'a', to: 'b' });
    graph.addEdge({ kind: 'loop', from: 'a', to: 'a', probability: 0.5 });
    expect(() => graph.addEdge({ kind: 'join', from: ['b', 'a'], to: 'c' })).toThrow('agent "a" already has a non-loop outgoing edge');
    expect(() => graph.addEdge({ kind: 'loop', from: 'a', to: 'b', count: 1 })).toThrow('agent "a" already has a loop edge');
    expect(() => graph.addEdge({ kind: 'loop', from: 'b', to: 'a' })).toThrow('needs exactly one of count');
  });
});

import fc from 'fast-check';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import type { TraceRequest } from '../../src/types.js';
import { generateRequests } from '../../src/workload/generate.js';
import { loadWorkflowSpec, parseWorkflowSpec, type WorkflowSpec } from '../../src/workload/spec.js';

const WORKLOADS = new URL('../../workloads/', import.meta.url).pathname;

function load(name: string): Promise<WorkflowSpec> {
  return loadWorkflowSpec(join(WORKLOADS, name));
}

function spec(json: Record<string, unknown>): WorkflowSpec {
  return parseWorkflowSpec({ name: 'test', ...json }, 'test.json');
}

/** Ids unique, every `after` id earlier in the list, released either at a time or after others. */
function expectValidOrder(requests: TraceRequest[]): void {
  const seen = new Set<string>();
  for (const request of requests) {
    expect(seen.has(request.id), `duplicate id ${request.id}`).toBe(false);
    for (const id of request.after ?? []) expect(seen.has(id), `${request.id} waits for ${id}, which is not earlier`).toBe(true);
    expect((request.t === undefined) !== (request.after === undefined), `${request.id} has both or neither of t and after`).toBe(true);
    seen.add(request.id);
  }
}

function expectConsistentTokens(requests: TraceRequest[]): void {
  for (const request of requests) {
    expect(request.blocks.length).toBe(Math.ceil(request.inputLength / request.blockSize));
    expect(request.fixedBlocks).toBeLessThanOrEqual(request.blocks.length);
  }
}

const count = (requests: TraceRequest[], agent: string) => requests.filter((request) => request.agent === agent).length;
const byId = (requests: TraceRequest[]) => new Map(requests.map((request) => [request.id, request]));

describe('generateRequests on the bundled workloads', async () => {
  const files = [
    ...(await readdir(WORKLOADS)).filter((name) => name.endsWith('.json')),
    ...(await readdir(join(WORKLOADS, 'paper'))).map((name) => `paper/${name}`),
  ];

  it.each(files)('%s: valid order and consistent token counts', async (file) => {
    const requests = generateRequests(await load(file), { seed: 1 });
    expect(requests.length).toBeGreaterThan(0);
    expectValidOrder(requests);
    expectConsistentTokens(requests);
  });

  it('sequential-10: ten agents in order, ten rounds, shared fixed prompts and fresh dynamic blocks', async () => {
    const requests = generateRequests(await load('sequential-10.json'), { seed: 1 });
    expect(requests).toHaveLength(100);
    expect(requests.slice(0, 11).map((request) => request.id)).toEqual([
      ...Array.from({ length: 10 }, (_, i) => `wf0:0:${i}:a${i}`),
      'wf0:1:0:a0',
    ]);
    expect(requests[0]).toMatchObject({ t: 0, workflow: 'wf0', agent: 'a0', inputLength: 2080, outputLength: 32, blockSize: 16, fixedBlocks: 128 });
    requests.slice(1).forEach((request, i) => expect(request.after).toEqual([requests[i]!.id]));

    const a0 = requests.filter((request) => request.agent === 'a0');
    for (const call of a0) expect(call.blocks.slice(0, 128)).toEqual(a0[0]!.blocks.slice(0, 128));
    const dynamic = requests.flatMap((request) => request.blocks.slice(request.fixedBlocks));
    expect(new Set(dynamic).size).toBe(dynamic.length);
    expect(dynamic).toHaveLength(200);
  });

  it('paper workloads: 11 sequential rounds of 10 agents, and 64 private workflows of 3 rounds', async () => {
    const sequential = generateRequests(await load('paper/sequential-8192.json'), { seed: 1 });
    expect(sequential).toHaveLength(110);
    expect(sequential[0]).toMatchObject({ inputLength: 8224, outputLength: 32, fixedBlocks: 512 });

    const concurrent = generateRequests(await load('paper/concurrent-512.json'), { seed: 1 });
    expect(concurrent).toHaveLength(64 * 3 * 10);
    expect(concurrent.filter((request) => request.t === 0)).toHaveLength(64);
    expect(concurrent[0]).toMatchObject({ inputLength: 768, outputLength: 256, fixedBlocks: 32 });
    const fixedBlockIds = concurrent.flatMap((request) => request.blocks.slice(0, request.fixedBlocks));
    expect(new Set(fixedBlockIds).size).toBe(64 * 10 * 32);
  });

  it('concurrent-shared vs concurrent-private: fixed prompts shared across instances or private to each', async () => {
    const fixedPromptsOf = (requests: TraceRequest[]) =>
      new Set(requests.filter((request) => request.agent === 'a0').map((request) => request.blocks.slice(0, request.fixedBlocks).join(',')));
    const shared = generateRequests(await load('concurrent-shared.json'), { seed: 1 });
    const private_ = generateRequests(await load('concurrent-private.json'), { seed: 1 });
    expect(fixedPromptsOf(shared).size).toBe(1);
    expect(fixedPromptsOf(private_).size).toBe(8);
    for (let instance = 0; instance < 8; instance++) {
      expect(fixedPromptsOf(private_.filter((request) => request.workflow === `wf${instance}`)).size).toBe(1);
    }
  });

  it('concurrent-shared: instances interleave round-robin, all starting at t = 0', async () => {
    const requests = generateRequests(await load('concurrent-shared.json'), { seed: 1 });
    expect(requests.slice(0, 9).map((request) => request.id)).toEqual([
      ...Array.from({ length: 8 }, (_, i) => `wf${i}:0:0:a0`),
      'wf0:0:1:a1',
    ]);
    expect(requests.slice(0, 8).every((request) => request.t === 0)).toBe(true);
  });

  it('fanout-barrier: the review loop runs the body three times per round, the reviewer waits for every worker', async () => {
    const requests = generateRequests(await load('fanout-barrier.json'), { seed: 1 });
    // 2 instances x 2 rounds x (1 + count 2) passes.
    expect(count(requests, 'planner')).toBe(12);
    expect(count(requests, 'worker0')).toBe(12);
    expect(count(requests, 'reviewer')).toBe(12);
    const requestsById = byId(requests);
    for (const reviewer of requests.filter((request) => request.agent === 'reviewer')) {
      const workers = reviewer.after!.map((id) => requestsById.get(id)!);
      expect(workers.map((worker) => worker.agent)).toEqual(['worker0', 'worker1', 'worker2']);
      const planners = new Set(workers.flatMap((worker) => worker.after));
      expect(planners.size).toBe(1);
    }
  });

  it('branch-loop: Poisson arrivals at increasing times, think time on every dependent request', async () => {
    const workload = await load('branch-loop.json');
    const requests = generateRequests(workload, { seed: 3 });
    const arrivals = requests.filter((request) => request.t !== undefined);
    expect(arrivals.map((request) => request.workflow)).toEqual(['wf0', 'wf1', 'wf2', 'wf3']);
    const times = arrivals.map((request) => request.t!);
    expect(times[0]).toBeGreaterThan(0);
    expect([...times].sort((a, b) => a - b)).toEqual(times);
    for (const request of requests) expect(request.think).toBe(request.after === undefined ? undefined : 0.5);
  });
});

describe('generateRequests determinism', () => {
  it('gives deep-equal output for the same seed and different paths for different seeds', async () => {
    const workload = await load('branch-loop.json');
    expect(generateRequests(workload, { seed: 42 })).toEqual(generateRequests(workload, { seed: 42 }));
    const paths = new Set([1, 2, 3, 4, 5].map((seed) => generateRequests(workload, { seed }).map((request) => request.agent).join()));
    expect(paths.size).toBeGreaterThan(1);
  });
});

describe('generateRequests control flow', () => {
  const agent = { fixed: 32, dynamic: 16, output: 8 };

  it('chooses branch targets with their probabilities', () => {
    const requests = generateRequests(
      spec({ agents: { a: agent, b: agent, c: agent }, edges: [{ kind: 'branch', from: 'a', to: { b: 0.8, c: 0.2 } }], start: 'a', rounds: 2000 }),
      { seed: 7 },
    );
    expect(count(requests, 'a')).toBe(2000);
    expect(count(requests, 'b') + count(requests, 'c')).toBe(2000);
    expect(count(requests, 'b') / 2000).toBeCloseTo(0.8, 1);
  });

  it('repeats a probabilistic loop 1 / (1 - p) times on average', () => {
    const requests = generateRequests(
      spec({ agents: { a: agent }, edges: [{ kind: 'loop', from: 'a', to: 'a', probability: 0.75 }], start: 'a', rounds: 2000 }),
      { seed: 7 },
    );
    expect(count(requests, 'a') / 2000).toBeGreaterThan(3.6);
    expect(count(requests, 'a') / 2000).toBeLessThan(4.4);
  });

  it('resets a count loop each time it is entered', () => {
    const requests = generateRequests(
      spec({
        agents: { a: agent, b: agent, c: agent },
        edges: [{ from: 'a', to: 'b' }, { kind: 'loop', from: 'b', to: 'b', count: 2 }, { from: 'b', to: 'c' }, { kind: 'loop', from: 'c', to: 'a', count: 1 }],
        start: 'a',
      }),
      { seed: 1 },
    );
    expect(requests.map((request) => request.agent).join(' ')).toBe('a b b b c a b b b c');
  });

  it('starts each round after every end of the previous one', () => {
    const requests = generateRequests(
      spec({ agents: { a: agent, b: agent, c: agent }, edges: [{ kind: 'fanout', from: 'a', to: ['b', 'c'] }], start: 'a', rounds: 2 }),
      { seed: 1 },
    );
    expect(requests.map(({ id, after }) => [id, after])).toEqual([
      ['wf0:0:0:a', undefined],
      ['wf0:0:1:b', ['wf0:0:0:a']],
      ['wf0:0:2:c', ['wf0:0:0:a']],
      ['wf0:1:0:a', ['wf0:0:1:b', 'wf0:0:2:c']],
      ['wf0:1:1:b', ['wf0:1:0:a']],
      ['wf0:1:2:c', ['wf0:1:0:a']],
    ]);
  });

  it('starts instance i after the last request of instance i - concurrency', () => {
    const requests = generateRequests(
      spec({ agents: { a: agent, b: agent }, edges: [{ from: 'a', to: 'b' }], start: 'a', instances: 5, arrival: { kind: 'closed', concurrency: 2 } }),
      { seed: 1 },
    );
    const firsts = requests.filter((request) => request.agent === 'a');
    expect(firsts.map(({ workflow, t, after }) => [workflow, t, after])).toEqual([
      ['wf0', 0, undefined],
      ['wf1', 0, undefined],
      ['wf2', undefined, ['wf0:0:1:b']],
      ['wf3', undefined, ['wf1:0:1:b']],
      ['wf4', undefined, ['wf2:0:1:b']],
    ]);
    expectValidOrder(requests);
  });

  it('splits an agent prompt into full fixed blocks and a dynamic rest', () => {
    const [request] = generateRequests(spec({ blockSize: 16, agents: { a: { fixed: 40, dynamic: 10, output: 0 } }, start: 'a' }), { seed: 1 });
    // 40 fixed tokens fill 2 blocks; the 8 left over and the 10 dynamic ones make 2 more.
    expect(request).toMatchObject({ inputLength: 50, fixedBlocks: 2, blocks: [0, 1, 2, 3] });
  });

  it('samples Poisson inter-arrival times with mean 1 / rate', () => {
    const requests = generateRequests(spec({ agents: { a: agent }, start: 'a', instances: 2000, arrival: { kind: 'poisson', rate: 4 } }), { seed: 9 });
    const last = Math.max(...requests.map((request) => request.t!));
    expect(last / 2000).toBeGreaterThan(0.225);
    expect(last / 2000).toBeLessThan(0.275);
  });

  it('stops with an InputError beyond the request limit', () => {
    const workflow = spec({ agents: { a: agent }, start: 'a', rounds: 11 });
    expect(generateRequests(workflow, { seed: 1, maxRequests: 11 })).toHaveLength(11);
    expect(() => generateRequests(workflow, { seed: 1, maxRequests: 10 })).toThrow(
      new InputError('test: (root): generates more than 10 requests; lower rounds, instances or loop probabilities'),
    );
  });

  it('reports a barrier that a branch left waiting', () => {
    const workflow = spec({
      agents: { a: agent, b: agent, c: agent, d: agent },
      edges: [{ kind: 'branch', from: 'a', to: { b: 0.5, c: 0.5 } }, { kind: 'join', from: ['b', 'c'], to: 'd' }],
      start: 'a',
    });
    expect(() => generateRequests(workflow, { seed: 1 })).toThrow(/^test: edges\.1: wf0: in round 0, "[bc]" never reached the join$/);
  });
});

describe('generateRequests on random chain and branch workflows', () => {
  /** Agents a0..a(n-1); each continues forward (chain or branch), may loop back, or ends. */
  const workflowArbitrary = fc
    .integer({ min: 1, max: 6 })
    .chain((size) =>
      fc.record({
        size: fc.constant(size),
        exits: fc.array(fc.record({ kind: fc.constantFrom('chain', 'branch', 'end'), split: fc.double({ min: 0.05, max: 0.95, noNaN: true }), jump: fc.nat() }), {
          minLength: size,
          maxLength: size,
        }),
        loops: fc.array(fc.option(fc.record({ back: fc.nat(), count: fc.option(fc.integer({ min: 1, max: 3 })), probability: fc.double({ min: 0.05, max: 0.9, noNaN: true }) })), {
          minLength: size,
          maxLength: size,
        }),
        blockSize: fc.integer({ min: 1, max: 32 }),
        rounds: fc.integer({ min: 1, max: 3 }),
        instances: fc.integer({ min: 1, max: 4 }),
        concurrency: fc.option(fc.integer({ min: 1, max: 4 })),
        shareAgents: fc.boolean(),
        seed: fc.integer(),
      }),
    );

  it('terminates with unique ids, dependencies first and consistent token counts', () => {
    fc.assert(
      fc.property(workflowArbitrary, (w) => {
        const agents = Object.fromEntries(Array.from({ length: w.size }, (_, i) => [`a${i}`, { fixed: 8 * i, dynamic: 1 + i, output: 1 }]));
        const edges: unknown[] = [];
        w.exits.forEach((exit, i) => {
          const next = i + 1;
          if (next >= w.size || exit.kind === 'end') return;
          const other = next + 1 + (exit.jump % (w.size - next));
          if (exit.kind === 'chain' || other >= w.size) edges.push({ from: `a${i}`, to: `a${next}` });
          else edges.push({ kind: 'branch', from: `a${i}`, to: { [`a${next}`]: exit.split, [`a${other}`]: 1 - exit.split } });
        });
        w.loops.forEach((loop, i) => {
          if (loop === null) return;
          const bound = loop.count === null ? { probability: loop.probability } : { count: loop.count };
          edges.push({ kind: 'loop', from: `a${i}`, to: `a${loop.back % (i + 1)}`, ...bound });
        });
        const reachable = reachableAgents(edges as { from: string; to: string | Record<string, number> }[]);
        const workflow = spec({
          agents: Object.fromEntries(Object.entries(agents).filter(([name]) => reachable.has(name))),
          edges: edges.filter((edge) => reachable.has((edge as { from: string }).from)),
          start: 'a0',
          blockSize: w.blockSize,
          rounds: w.rounds,
          instances: w.instances,
          shareAgents: w.shareAgents,
          ...(w.concurrency === null ? { arrival: { kind: 'poisson', rate: 1 } } : { arrival: { kind: 'closed', concurrency: w.concurrency } }),
        });
        const requests = generateRequests(workflow, { seed: w.seed });
        expect(requests.filter((request) => request.agent === 'a0').length).toBeGreaterThanOrEqual(w.rounds * w.instances);
        expectValidOrder(requests);
        expectConsistentTokens(requests);
        expect(generateRequests(workflow, { seed: w.seed })).toEqual(requests);
      }),
      { numRuns: 200 },
    );
  });
});

/** Agents reachable from a0, so the random spec passes the "every agent reachable" rule. */
function reachableAgents(edges: { from: string; to: string | Record<string, number> }[]): Set<string> {
  const reached = new Set(['a0']);
  for (let changed = true; changed; ) {
    changed = false;
    for (const edge of edges) {
      if (!reached.has(edge.from)) continue;
      for (const target of typeof edge.to === 'string' ? [edge.to] : Object.keys(edge.to)) {
        if (!reached.has(target)) {
          reached.add(target);
          changed = true;
        }
      }
    }
  }
  return reached;
}

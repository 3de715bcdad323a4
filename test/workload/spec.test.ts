import { mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { loadWorkflowSpec, parseWorkflowSpec } from '../../src/workload/spec.js';

const FILE = 'spec.json';

/** A valid two-agent chain; each case below breaks one thing. */
function baseSpec(): Record<string, unknown> {
  return {
    name: 'two',
    agents: { a: { fixed: 64, dynamic: 8, output: 4 }, b: { fixed: 32, dynamic: 8, output: 4 } },
    edges: [{ from: 'a', to: 'b' }],
    start: 'a',
  };
}

function problemOf(json: unknown): string {
  try {
    parseWorkflowSpec(json, FILE);
  } catch (error) {
    expect(error).toBeInstanceOf(InputError);
    return (error as InputError).message;
  }
  throw new Error('expected the spec to be rejected');
}

const agents4 = {
  a: { fixed: 16, dynamic: 16, output: 1 },
  b: { fixed: 16, dynamic: 16, output: 1 },
  c: { fixed: 16, dynamic: 16, output: 1 },
  d: { fixed: 16, dynamic: 16, output: 1 },
};

describe('parseWorkflowSpec', () => {
  it('fills in every default', () => {
    expect(parseWorkflowSpec(baseSpec(), FILE)).toEqual({
      ...baseSpec(),
      edges: [{ kind: 'chain', from: 'a', to: 'b' }],
      blockSize: 16,
      rounds: 1,
      shareAgents: true,
      instances: 1,
      arrival: { kind: 'closed', concurrency: 1 },
      think: 0,
    });
  });

  it('defaults closed-loop concurrency to the number of instances', () => {
    expect(parseWorkflowSpec({ ...baseSpec(), instances: 5 }, FILE).arrival).toEqual({ kind: 'closed', concurrency: 5 });
    expect(parseWorkflowSpec({ ...baseSpec(), instances: 5, arrival: { kind: 'closed' } }, FILE).arrival).toEqual({
      kind: 'closed',
      concurrency: 5,
    });
  });

  it('accepts every edge kind', () => {
    const spec = parseWorkflowSpec(
      {
        name: 'all-kinds',
        agents: { ...agents4, e: { fixed: 0, dynamic: 1, output: 0 }, f: { fixed: 1, dynamic: 0, output: 0 } },
        edges: [
          { kind: 'branch', from: 'a', to: { b: 0.7, c: 0.3 } },
          { kind: 'fanout', from: 'b', to: ['d', 'e'] },
          { kind: 'loop', from: 'c', to: 'a', probability: 0.5 },
          { kind: 'join', from: ['d', 'e'], to: 'f' },
          { kind: 'loop', from: 'd', to: 'd', count: 2 },
        ],
        start: 'a',
        arrival: { kind: 'poisson', rate: 2 },
      },
      FILE,
    );
    expect(spec.edges.map((edge) => edge.kind)).toEqual(['branch', 'fanout', 'loop', 'join', 'loop']);
    expect(spec.arrival).toEqual({ kind: 'poisson', rate: 2 });
  });

  const shapeCases: [string, (spec: Record<string, unknown>) => unknown, string][] = [
    ['a non-object document', () => 42, 'spec.json: (root): must be an object'],
    ['a missing name', ({ name: _, ...rest }) => rest, 'spec.json: name: is required'],
    ['an unknown top-level field', (s) => ({ ...s, round: 3 }), 'spec.json: round: unknown field'],
    ['a negative size', (s) => ({ ...s, agents: { ...(s.agents as object), a: { fixed: -1, dynamic: 8, output: 4 } } }), 'spec.json: agents.a.fixed: must be >= 0'],
    ['a fractional size', (s) => ({ ...s, agents: { ...(s.agents as object), b: { fixed: 1.5, dynamic: 8, output: 4 } } }), 'spec.json: agents.b.fixed: must be an integer'],
    ['a size of the wrong type', (s) => ({ ...s, agents: { ...(s.agents as object), b: { fixed: '1', dynamic: 8, output: 4 } } }), 'spec.json: agents.b.fixed: must be a number'],
    ['a missing size', (s) => ({ ...s, agents: { ...(s.agents as object), b: { fixed: 1, output: 4 } } }), 'spec.json: agents.b.dynamic: is required'],
    ['an empty prompt', (s) => ({ ...s, agents: { ...(s.agents as object), b: { fixed: 0, dynamic: 0, output: 4 } } }), 'spec.json: agents.b: fixed + dynamic must be > 0'],
    ['no agents', (s) => ({ ...s, agents: {} }), 'spec.json: agents: must declare at least one agent'],
    ['a zero block size', (s) => ({ ...s, blockSize: 0 }), 'spec.json: blockSize: must be >= 1'],
    ['zero rounds', (s) => ({ ...s, rounds: 0 }), 'spec.json: rounds: must be >= 1'],
    ['a negative think time', (s) => ({ ...s, think: -1 }), 'spec.json: think: must be >= 0'],
    ['a non-boolean shareAgents', (s) => ({ ...s, shareAgents: 'yes' }), 'spec.json: shareAgents: must be true or false'],
    ['an unknown edge kind', (s) => ({ ...s, edges: [{ kind: 'goto', from: 'a', to: 'b' }] }), 'spec.json: edges.0.kind: must be one of "chain", "branch", "fanout", "join", "loop"'],
    ['an unknown edge field', (s) => ({ ...s, edges: [{ from: 'a', to: 'b', weight: 1 }] }), 'spec.json: edges.0.weight: unknown field'],
    ['a branch probability of 0', (s) => ({ ...s, edges: [{ kind: 'branch', from: 'a', to: { b: 0, a: 1 } }] }), 'spec.json: edges.0.to.b: must be in (0, 1]'],
    ['branch probabilities not summing to 1', (s) => ({ ...s, edges: [{ kind: 'branch', from: 'a', to: { b: 0.5, a: 0.4 } }] }), 'spec.json: edges.0.to: probabilities sum to 0.9, must sum to 1'],
    ['an empty fanout', (s) => ({ ...s, edges: [{ kind: 'fanout', from: 'a', to: [] }] }), 'spec.json: edges.0.to: must not be empty'],
    ['a loop with neither bound', (s) => ({ ...s, edges: [...(s.edges as object[]), { kind: 'loop', from: 'b', to: 'a' }] }), 'spec.json: edges.1: a loop needs exactly one of "count" or "probability"'],
    ['a loop with both bounds', (s) => ({ ...s, edges: [...(s.edges as object[]), { kind: 'loop', from: 'b', to: 'a', count: 2, probability: 0.5 }] }), 'spec.json: edges.1: a loop needs exactly one of "count" or "probability"'],
    ['a loop count of 0', (s) => ({ ...s, edges: [...(s.edges as object[]), { kind: 'loop', from: 'b', to: 'a', count: 0 }] }), 'spec.json: edges.1.count: must be >= 1'],
    ['a loop probability of 1', (s) => ({ ...s, edges: [...(s.edges as object[]), { kind: 'loop', from: 'b', to: 'a', probability: 1 }] }), 'spec.json: edges.1.probability: must be in (0, 1)'],
    ['an unknown arrival kind', (s) => ({ ...s, arrival: { kind: 'burst' } }), 'spec.json: arrival.kind: must be "closed" or "poisson"'],
    ['a zero Poisson rate', (s) => ({ ...s, arrival: { kind: 'poisson', rate: 0 } }), 'spec.json: arrival.rate: must be > 0'],
    ['a zero concurrency', (s) => ({ ...s, arrival: { kind: 'closed', concurrency: 0 } }), 'spec.json: arrival.concurrency: must be >= 1'],
  ];
  it.each(shapeCases)('rejects %s', (_, breakSpec, message) => {
    expect(problemOf(breakSpec(baseSpec()))).toBe(message);
  });

  const flowCases: [string, Record<string, unknown>, string][] = [
    ['an undeclared start', { start: 'z' }, 'spec.json: start: unknown agent "z"'],
    ['an undeclared edge target', { edges: [{ from: 'a', to: 'x' }] }, 'spec.json: edges.0.to: unknown agent "x"'],
    ['an undeclared branch target', { edges: [{ kind: 'branch', from: 'a', to: { b: 0.5, x: 0.5 } }] }, 'spec.json: edges.0.to: unknown agent "x"'],
    ['an undeclared join source', { edges: [{ from: 'a', to: 'b' }, { kind: 'join', from: ['b', 'y'], to: 'c' }] }, 'spec.json: edges.1.from: unknown agent "y"'],
    ['a repeated fanout target', { edges: [{ kind: 'fanout', from: 'a', to: ['b', 'b'] }] }, 'spec.json: edges.0.to: "b" is listed twice'],
    [
      'two non-loop edges out of one agent',
      { edges: [{ from: 'a', to: 'b' }, { from: 'a', to: 'c' }] },
      'spec.json: edges.1: "a" already continues through edges.0; an agent has at most one non-loop outgoing edge (use a branch or fanout edge for several targets)',
    ],
    [
      'two loop edges out of one agent',
      { edges: [{ from: 'a', to: 'b' }, { kind: 'loop', from: 'b', to: 'a', count: 1 }, { kind: 'loop', from: 'b', to: 'b', count: 1 }] },
      'spec.json: edges.2: "b" already has a loop edge (edges.1); an agent has at most one',
    ],
    [
      'a join target entered by a chain',
      { edges: [{ kind: 'fanout', from: 'a', to: ['b', 'c'] }, { kind: 'join', from: ['b', 'c'], to: 'd' }, { kind: 'loop', from: 'd', to: 'a', count: 1 }, { from: 'd', to: 'd' }] },
      'spec.json: edges.3.to: "d" is the target of the join edges.1 and can only be entered through it',
    ],
    ['an unreachable agent', { edges: [{ from: 'a', to: 'b' }, { from: 'c', to: 'd' }] }, 'spec.json: agents.c: not reachable from start "a"'],
    [
      'a cycle of chain edges',
      { edges: [{ from: 'a', to: 'b' }, { from: 'b', to: 'c' }, { from: 'c', to: 'd' }, { from: 'd', to: 'b' }] },
      'spec.json: edges.0: the workflow can never end after "a": it cycles without reaching an agent that has no chain, branch, fanout or join edge (bound the cycle with a loop edge)',
    ],
    [
      'a cycle whose loop edge cannot leave it',
      { edges: [{ from: 'a', to: 'b' }, { from: 'b', to: 'c' }, { from: 'c', to: 'd' }, { from: 'd', to: 'a' }, { kind: 'loop', from: 'd', to: 'a', count: 2 }] },
      'spec.json: edges.0: the workflow can never end after "a": it cycles without reaching an agent that has no chain, branch, fanout or join edge (bound the cycle with a loop edge)',
    ],
    [
      'a fanout with one endless target',
      { edges: [{ kind: 'fanout', from: 'a', to: ['b', 'c'] }, { from: 'c', to: 'd' }, { from: 'd', to: 'c' }] },
      'spec.json: edges.0: the workflow can never end after "a": it cycles without reaching an agent that has no chain, branch, fanout or join edge (bound the cycle with a loop edge)',
    ],
  ];
  it.each(flowCases)('rejects %s', (_, change, message) => {
    expect(problemOf({ ...baseSpec(), agents: agents4, ...change })).toBe(message);
  });

  it('accepts a branch cycle that can leave, and a cycle bounded by a loop edge', () => {
    const branchCycle = { edges: [{ from: 'a', to: 'b' }, { kind: 'branch', from: 'b', to: { a: 0.5, c: 0.5 } }, { from: 'c', to: 'd' }] };
    const boundedLoop = { edges: [{ from: 'a', to: 'b' }, { from: 'b', to: 'c' }, { from: 'c', to: 'd' }, { kind: 'loop', from: 'd', to: 'a', count: 3 }] };
    for (const change of [branchCycle, boundedLoop]) {
      expect(parseWorkflowSpec({ ...baseSpec(), agents: agents4, ...change }, FILE).name).toBe('two');
    }
  });
});

describe('loadWorkflowSpec', () => {
  it('names a missing file', async () => {
    await expect(loadWorkflowSpec('/nonexistent/spec.json')).rejects.toThrow(new InputError('/nonexistent/spec.json: no such file'));
  });

  it('reports invalid JSON at the root', async () => {
    const path = join(await mkdtemp(join(tmpdir(), 'kvflow-spec-')), 'broken.json');
    await writeFile(path, '{"name": ');
    await expect(loadWorkflowSpec(path)).rejects.toThrow(/^.*broken\.json: \(root\): invalid JSON: /);
  });

  it('reads a valid file', async () => {
    const path = join(await mkdtemp(join(tmpdir(), 'kvflow-spec-')), 'ok.json');
    await writeFile(path, JSON.stringify(baseSpec()));
    expect((await loadWorkflowSpec(path)).start).toBe('a');
  });
});

describe('bundled workloads', async () => {
  const root = new URL('../../workloads/', import.meta.url).pathname;
  const files = [
    ...(await readdir(root)).filter((name) => name.endsWith('.json')),
    ...(await readdir(join(root, 'paper'))).filter((name) => name.endsWith('.json')).map((name) => `paper/${name}`),
  ];

  it('include the paper configurations', () => {
    expect(files).toEqual(
      expect.arrayContaining([
        'sequential-10.json',
        'concurrent-shared.json',
        'concurrent-private.json',
        'fanout-barrier.json',
        'branch-loop.json',
        ...[1024, 2048, 4096, 8192].map((fixed) => `paper/sequential-${fixed}.json`),
        'paper/concurrent-512.json',
        'paper/concurrent-1024.json',
      ]),
    );
  });

  it.each(files)('%s parses', async (file) => {
    const spec = await loadWorkflowSpec(join(root, file));
    expect(`${spec.name}.json`).toBe(file.replace(/^paper\//, ''));
  });
});

/**
 * Spec validation without zod (src/workload/spec-fast-path.ts) and the control-flow rules on integer ids
 * (src/workload/spec-rules.ts) against what they replace: zod's verdict and value, and the rules as they
 * were (test/helpers/naive-spec-rules.ts), on generated documents, mostly almost valid.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { plainlyValidSpec } from '../../src/workload/spec-fast-path.js';
import { findControlFlowProblem } from '../../src/workload/spec-rules.js';
import { parseWorkflowSpec, specShapeWithZod, type WorkflowSpec } from '../../src/workload/spec.js';
import { naiveControlFlowProblem } from '../helpers/naive-spec-rules.js';

/** An object with these own keys, `__proto__` included as a plain key (as JSON.parse makes it). */
const object = (entries: [string, unknown][]) => Object.fromEntries(entries);
/** Usually a valid value, now and then an odd one. */
const maybe = <T>(valid: fc.Arbitrary<T>, ...odd: unknown[]) => fc.oneof({ weight: 30, arbitrary: valid }, { weight: 1, arbitrary: fc.constantFrom(...odd) });
/** An object with its required fields (each rarely left out), optional ones or not, and rarely an unknown one. */
const fields = (shape: Record<string, fc.Arbitrary<unknown>>, required: string[] = Object.keys(shape)) =>
  fc
    .tuple(
      ...Object.entries(shape).map(([key, value]) => fc.option(value.map((v): [string, unknown] => [key, v]), { freq: required.includes(key) ? 60 : 2, nil: undefined })),
      fc.oneof({ weight: 30, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constantFrom<[string, unknown]>(['extra', 1], ['__proto__', {}], ['from', undefined]) }),
    )
    .map((entries) => object(entries.filter((e): e is [string, unknown] => e !== undefined)));

const NAMES = ['a', 'b', 'c', 'd', 'e'];
const name = maybe(fc.constantFrom(...NAMES), '', 'zz', '__proto__', 3, null);
const names = maybe(fc.uniqueArray(fc.constantFrom(...NAMES), { minLength: 1, maxLength: 3 }), [], ['a', 'a'], ['a', 3], 'a');
const tokens = maybe(fc.integer({ min: 0, max: 300 }), -1, 1.5, 2 ** 21 + 1, '4', NaN, Infinity, undefined);
const agent = maybe(fields({ fixed: tokens, dynamic: tokens, output: tokens }), null, [], 'agent', { fixed: 0, dynamic: 0, output: 1 });
const probabilities = maybe(
  fc.constantFrom({ a: 1 }, { b: 0.5, c: 0.5 }, { a: 0.1, b: 0.2, c: 0.7 }, { c: 0.3, d: 0.3, e: 0.4 }),
  {},
  { a: 0.5 },
  { a: 0, b: 1 },
  { a: 1.5 },
  object([['__proto__', 1]]),
  { a: '1' },
);
const edge = maybe(
  fc.oneof(
  fields({ from: name, to: name }),
  fields({ kind: fc.constant('chain'), from: name, to: name }),
  fields({ kind: fc.constant('fanout'), from: name, to: names }),
  fields({ kind: fc.constant('join'), from: names, to: name }),
  fields({ kind: fc.constant('branch'), from: name, to: probabilities }),
  fields({ kind: fc.constant('loop'), from: name, to: name, count: maybe(fc.integer({ min: 1, max: 5 }), 0, 1.5, 1e7), probability: maybe(fc.constantFrom(0.5, 0.9), 0, 1, -0.5) }, ['kind', 'from', 'to']),
  ),
  null,
  'a->b',
  { kind: 'star', from: 'a', to: 'b' },
);
const agents = fc
  .uniqueArray(fc.tuple(fc.oneof({ weight: 30, arbitrary: fc.constantFrom(...NAMES) }, { weight: 1, arbitrary: fc.constantFrom('', '__proto__') }), agent), { selector: ([key]) => key, minLength: 1, maxLength: 5 })
  .map((entries) => object(entries));
const arrival = maybe(
  fc.oneof(fields({ kind: fc.constant('closed'), concurrency: maybe(fc.integer({ min: 1, max: 9 }), 0, 2.5) }, ['kind']), fields({ kind: fc.constant('poisson'), rate: maybe(fc.constantFrom(0.5, 3), 0, -1, Infinity) })),
  { kind: 'open' },
  null,
);
const specDocument = fields({
  name: maybe(fc.constantFrom('w', 'flow'), '', 7),
  description: maybe(fc.constant('text'), 5),
  blockSize: maybe(fc.integer({ min: 1, max: 64 }), 0, 2 ** 16 + 1, 8.5),
  agents: maybe(agents, [], 'agents', null),
  edges: maybe(fc.array(edge, { maxLength: 6 }), 'edges', {}),
  start: name,
  rounds: maybe(fc.integer({ min: 1, max: 9 }), 0, 1e7),
  shareAgents: maybe(fc.boolean(), 'yes', 1),
  instances: maybe(fc.integer({ min: 1, max: 9 }), 0, 1.5),
  arrival,
  think: maybe(fc.constantFrom(0, 0.5, 2), -1, Infinity, '1'),
}, ['name', 'agents', 'start']);

/** Whether `__proto__` appears as a key anywhere: the fast path leaves such documents to zod. */
function hasProtoKey(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  return Object.keys(value).some((key) => key === '__proto__' || hasProtoKey((value as Record<string, unknown>)[key]));
}

describe('spec validation without zod', () => {
  it('accepts exactly what zod accepts (but documents with a __proto__ key) and returns the same value, field order included', () => {
    let accepted = 0;
    fc.assert(
      fc.property(specDocument, (document) => {
        const fast = plainlyValidSpec(document);
        let viaZod: unknown;
        try {
          viaZod = specShapeWithZod(document, 'spec.json');
        } catch {
          viaZod = undefined;
        }
        if (fast !== undefined) {
          accepted++;
          expect(viaZod).toStrictEqual(fast);
          expect(JSON.stringify(fast)).toBe(JSON.stringify(viaZod));
        } else if (!hasProtoKey(document)) {
          expect(viaZod).toBeUndefined();
        }
      }),
      { numRuns: 3_000 },
    );
    expect(accepted, 'documents the fast path accepted').toBeGreaterThan(100);
  });

  it('finds the same first control-flow problem as the rules it replaced', () => {
    let problems = 0;
    fc.assert(
      fc.property(specDocument, (document) => {
        let spec: WorkflowSpec;
        try {
          const { arrival: _arrival, ...shape } = specShapeWithZod(document, 'spec.json');
          spec = { ...shape, arrival: { kind: 'closed', concurrency: 1 } };
        } catch {
          return;
        }
        const problem = findControlFlowProblem(spec);
        if (problem) problems++;
        expect(problem).toEqual(naiveControlFlowProblem(spec));
      }),
      { numRuns: 3_000 },
    );
    expect(problems, 'specs with a control-flow problem').toBeGreaterThan(100);
  });

  it('validates a 100,000-agent chain and finds a problem at its far end', () => {
    const agentNames = Array.from({ length: 100_000 }, (_, i) => `a${i}`);
    const chain = {
      name: 'chain',
      agents: Object.fromEntries(agentNames.map((n) => [n, { fixed: 64, dynamic: 16, output: 1 }])),
      edges: agentNames.slice(1).map((to, i) => ({ from: agentNames[i], to })),
      start: 'a0',
    };
    expect(Object.keys(parseWorkflowSpec(chain, 'chain.json').agents)).toHaveLength(100_000);
    const cycle = { ...chain, edges: [...chain.edges, { from: 'a99999', to: 'a50000' }] };
    expect(() => parseWorkflowSpec(cycle, 'chain.json')).toThrow('chain.json: edges.0: the workflow can never end after "a0"');
  });
});

/**
 * Workflow specs: a JSON document declaring agents, the control flow between them and how instances of
 * the workflow arrive (workloads/README.md documents the format). Parsing validates the shape (plainly
 * valid documents without zod: spec-fast-path.ts; zod for the rest and for every error message) and the
 * control flow with spec-rules.ts; every problem becomes `file: path.to.field: problem`.
 */
import type { z } from 'zod';
import { InputError } from '../errors.js';
import { readInputJson } from '../input-files.js';
import { BRANCH_SUM_TOLERANCE, plainlyValidSpec, SPEC_LIMITS, type SpecShape } from './spec-fast-path.js';
import { findControlFlowProblem } from './spec-rules.js';
import type { AgentSpec, ChainEdge, BranchEdge, FanoutEdge, JoinEdge, LoopEdge, EdgeSpec, EdgeKind, ArrivalSpec, WorkflowSpec } from './spec-types.js';
import { DEFAULT_BLOCK_SIZE } from '../types.js';
import { inputErrorFrom } from '../zod-issues.js';
import { lazySchema } from './lazy-zod.js';

export type { AgentSpec, ChainEdge, BranchEdge, FanoutEdge, JoinEdge, LoopEdge, EdgeSpec, EdgeKind, ArrivalSpec, WorkflowSpec } from './spec-types.js';

/** Says "is required" when the field is missing and what it must be otherwise. */
const expecting = (what: string) => ({
  error: (issue: { input?: unknown }) => (issue.input === undefined ? 'is required' : `must be ${what}`),
});

/**
 * Bounds every spec field is checked against before anything is expanded, so a typo such as
 * `"fixed": 1e12` is a one-line error, not a machine out of memory. Generous for real workflows:
 * the longest context windows are about 2M tokens.
 */
export { SPEC_LIMITS };

/** The zod schema of a spec, built the first time a document fails the fast path (most runs never load zod). */
const specSchema = lazySchema((z) => {
  const count = (min: number, max: number = Number.MAX_SAFE_INTEGER) =>
    z
      .number(expecting('a number'))
      .int({ error: 'must be an integer' })
      .min(min, { error: `must be >= ${min}` })
      .max(max, { error: `must be <= ${max.toLocaleString('en-US')}` });
  const agentName = z.string(expecting('an agent name')).min(1, { error: 'must not be empty' });
  const agentList = z.array(agentName, expecting('a list of agent names')).min(1, { error: 'must not be empty' });

  /** A discriminated union fails either because the value is no object or because its `kind` is wrong. */
  const kindError = (expected: string) => (issue: { input?: unknown }) =>
    isPlainObject(issue.input) ? expected : 'must be an object';

  const agentSchema = z
    .strictObject({ fixed: count(0, SPEC_LIMITS.tokens), dynamic: count(0, SPEC_LIMITS.tokens), output: count(0, SPEC_LIMITS.tokens) })
    .refine((agent) => agent.fixed + agent.dynamic > 0, { error: 'fixed + dynamic must be > 0' });

  const probability = z
    .number(expecting('a number'))
    .gt(0, { error: 'must be in (0, 1]' })
    .max(1, { error: 'must be in (0, 1]' });

  const edgeSchema = z.discriminatedUnion(
    'kind',
    [
      z.strictObject({ kind: z.literal('chain'), from: agentName, to: agentName }),
      z.strictObject({
        kind: z.literal('branch'),
        from: agentName,
        to: z
          .record(z.string(), probability, expecting('an object mapping agent names to probabilities'))
          .refine((targets) => Object.keys(targets).length > 0, { error: 'must not be empty' })
          .refine((targets) => Math.abs(sum(Object.values(targets)) - 1) <= BRANCH_SUM_TOLERANCE, {
            error: (issue) => `probabilities sum to ${sum(Object.values(issue.input as Record<string, number>))}, must sum to 1`,
          }),
      }),
      z.strictObject({ kind: z.literal('fanout'), from: agentName, to: agentList }),
      z.strictObject({ kind: z.literal('join'), from: agentList, to: agentName }),
      z
        .strictObject({
          kind: z.literal('loop'),
          from: agentName,
          to: agentName,
          count: count(1, SPEC_LIMITS.loopCount).optional(),
          probability: z
            .number(expecting('a number'))
            .gt(0, { error: 'must be in (0, 1)' })
            .lt(1, { error: 'must be in (0, 1)' })
            .optional(),
        })
        .refine((loop) => (loop.count === undefined) !== (loop.probability === undefined), {
          error: 'a loop needs exactly one of "count" or "probability"',
        }),
    ],
    { error: kindError('must be one of "chain", "branch", "fanout", "join", "loop"') },
  );

  /** Edges may omit `kind`, meaning a chain. */
  const edgeWithDefaultKind = z.preprocess(
    (edge) => (isPlainObject(edge) && !('kind' in edge) ? { kind: 'chain', ...edge } : edge),
    edgeSchema,
  );

  const arrivalSchema = z.discriminatedUnion(
    'kind',
    [
      z.strictObject({ kind: z.literal('closed'), concurrency: count(1).optional() }),
      z.strictObject({
        kind: z.literal('poisson'),
        rate: z.number(expecting('a number')).gt(0, { error: 'must be > 0' }),
      }),
    ],
    { error: kindError('must be "closed" or "poisson"') },
  );

  return z.strictObject({
    name: z.string(expecting('a string')).min(1, { error: 'must not be empty' }),
    description: z.string(expecting('a string')).optional(),
    blockSize: count(1, SPEC_LIMITS.blockSize).default(DEFAULT_BLOCK_SIZE),
    agents: z
      .record(z.string(), agentSchema, expecting('an object mapping agent names to {fixed, dynamic, output}'))
      .refine((agents) => Object.keys(agents).length > 0, { error: 'must declare at least one agent' })
      .refine((agents) => Object.keys(agents).length <= SPEC_LIMITS.agents, { error: `must declare at most ${SPEC_LIMITS.agents.toLocaleString('en-US')} agents` })
      .refine((agents) => !Object.hasOwn(agents, ''), { error: 'agent names must not be empty' }),
    edges: z
      .array(edgeWithDefaultKind, expecting('a list of edges'))
      .max(SPEC_LIMITS.edges, { error: `must list at most ${SPEC_LIMITS.edges.toLocaleString('en-US')} edges` })
      .default([]),
    start: agentName,
    rounds: count(1, SPEC_LIMITS.rounds).default(1),
    shareAgents: z.boolean(expecting('true or false')).default(true),
    instances: count(1, SPEC_LIMITS.instances).default(1),
    arrival: arrivalSchema.optional(),
    think: z.number(expecting('a number')).min(0, { error: 'must be >= 0' }).default(0),
  });
});

/** Validates a parsed JSON document as a workflow spec; `file` only labels error messages. */
export function parseWorkflowSpec(json: unknown, file: string): WorkflowSpec {
  const { arrival, ...rest } = plainlyValidSpec(json) ?? specShapeWithZod(json, file);
  const spec: WorkflowSpec = {
    ...rest,
    arrival:
      arrival === undefined || arrival.kind === 'closed'
        ? { kind: 'closed', concurrency: arrival?.concurrency ?? rest.instances }
        : arrival,
  };
  const requests = spec.instances * spec.rounds * Object.keys(spec.agents).length;
  if (requests > SPEC_LIMITS.requests) {
    throw InputError.atPath(
      file,
      'instances',
      `instances x rounds x agents = ${requests.toLocaleString('en-US')} requests, more than the ${SPEC_LIMITS.requests.toLocaleString('en-US')} a spec may expand to`,
    );
  }
  const problem = findControlFlowProblem(spec);
  if (problem !== undefined) throw InputError.atPath(file, problem.path, problem.problem);
  return spec;
}

/** The spec shape by zod alone (every error message comes from here; tests compare it with the fast path). */
export function specShapeWithZod(json: unknown, file: string): SpecShape {
  const result = specSchema().safeParse(json, { error: describeIssue });
  if (!result.success) throw inputErrorFrom(result.error, { file });
  return result.data;
}

/** Reads and validates a workflow spec file. */
export async function loadWorkflowSpec(path: string): Promise<WorkflowSpec> {
  return parseWorkflowSpec(await readInputJson(path), path);
}

/** Messages for the issues the schema's own messages do not cover. */
function describeIssue(issue: z.core.$ZodRawIssue): string | undefined {
  if (issue.code === 'unrecognized_keys') return 'unknown field';
  if (issue.code === 'invalid_type' && issue.expected === 'object') return issue.input === undefined ? 'is required' : 'must be an object';
  return undefined;
}

function sum(values: number[]): number {
  return values.reduce((total, value) => total + value, 0);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

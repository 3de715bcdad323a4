/**
 * Workflow specs without zod when every field is plainly valid: the document zod would accept, and the
 * same value it would give back (defaults filled, fields in the schema's order; compared with zod on
 * generated documents in test/workload/spec-fast-path.test.ts). Anything unusual (an error, a non-plain
 * object, a key like `__proto__`) gives undefined, and spec.ts runs zod for the exact message. zod walks
 * a 100,000-agent spec in about a second; this check in a tenth of that.
 */
import { DEFAULT_BLOCK_SIZE } from '../types.js';
import type { AgentSpec, ArrivalSpec, EdgeSpec, WorkflowSpec } from './spec-types.js';

/** Bounds every spec field is checked against before anything is expanded (spec.ts documents them). */
export const SPEC_LIMITS = {
  /** Tokens of one agent's fixed prompt, dynamic part or output. */
  tokens: 2 ** 21,
  agents: 1_000_000,
  edges: 2_000_000,
  instances: 1_000_000,
  rounds: 1_000_000,
  loopCount: 1_000_000,
  blockSize: 2 ** 16,
  /** instances x rounds x agents: the requests a spec may expand to, at most. */
  requests: 50_000_000,
} as const;

/** How far branch probabilities may sum from 1. */
export const BRANCH_SUM_TOLERANCE = 1e-9;

/** The parsed document, before spec.ts turns the optional arrival into a closed or Poisson one. */
export type SpecShape = Omit<WorkflowSpec, 'arrival'> & {
  arrival?: { kind: 'closed'; concurrency?: number } | Exclude<ArrivalSpec, { kind: 'closed' }>;
};

type Plain = Record<string, unknown>;

const SPEC_KEYS = new Set(['name', 'description', 'blockSize', 'agents', 'edges', 'start', 'rounds', 'shareAgents', 'instances', 'arrival', 'think']);

/** An object literal's kind of object, so reading a field cannot reach an inherited one. */
function isPlain(value: unknown): value is Plain {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** Exactly these keys with none undefined (zod treats an undefined field as missing), optional ones aside. */
function hasKeys(value: Plain, required: readonly string[], optional: readonly string[] = []): boolean {
  let count = 0;
  for (const key in value) {
    if (value[key] === undefined || (!required.includes(key) && !optional.includes(key))) return false;
    count++;
  }
  return required.every((key) => Object.hasOwn(value, key)) && count >= required.length;
}

const isName = (value: unknown): value is string => typeof value === 'string' && value.length > 0;
const isCount = (value: unknown, min: number, max: number): value is number => typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
/** An optional field: absent (its default) or a valid value. */
const orDefault = <T>(value: unknown, fallback: T, valid: (v: unknown) => v is T): T | undefined => (value === undefined ? fallback : valid(value) ? value : undefined);

function names(value: unknown): string[] | undefined {
  if (!Array.isArray(value) || value.length === 0) return undefined;
  for (const name of value) if (!isName(name)) return undefined;
  return [...(value as string[])];
}

function agentOf(value: unknown): AgentSpec | undefined {
  if (!isPlain(value) || !hasKeys(value, ['fixed', 'dynamic', 'output'])) return undefined;
  const { fixed, dynamic, output } = value;
  const max = SPEC_LIMITS.tokens;
  if (!isCount(fixed, 0, max) || !isCount(dynamic, 0, max) || !isCount(output, 0, max) || fixed + dynamic <= 0) return undefined;
  return { fixed, dynamic, output };
}

function branchTargets(value: unknown): Record<string, number> | undefined {
  if (!isPlain(value) || Object.hasOwn(value, '__proto__')) return undefined;
  const targets: Record<string, number> = {};
  let count = 0;
  let total = 0;
  for (const [name, probability] of Object.entries(value)) {
    if (typeof probability !== 'number' || !(probability > 0 && probability <= 1)) return undefined;
    targets[name] = probability;
    total += probability;
    count++;
  }
  return count > 0 && Math.abs(total - 1) <= BRANCH_SUM_TOLERANCE ? targets : undefined;
}

function edgeOf(value: unknown): EdgeSpec | undefined {
  if (!isPlain(value)) return undefined;
  const { kind, from, to } = value;
  switch (kind) {
    case undefined:
    case 'chain':
      if (!hasKeys(value, kind === undefined ? ['from', 'to'] : ['kind', 'from', 'to']) || !isName(from) || !isName(to)) return undefined;
      return { kind: 'chain', from, to };
    case 'fanout': {
      const targets = names(to);
      return hasKeys(value, ['kind', 'from', 'to']) && isName(from) && targets ? { kind, from, to: targets } : undefined;
    }
    case 'join': {
      const sources = names(from);
      return hasKeys(value, ['kind', 'from', 'to']) && sources && isName(to) ? { kind, from: sources, to } : undefined;
    }
    case 'branch': {
      const targets = branchTargets(to);
      return hasKeys(value, ['kind', 'from', 'to']) && isName(from) && targets ? { kind, from, to: targets } : undefined;
    }
    case 'loop': {
      const { count, probability } = value;
      if (!hasKeys(value, ['kind', 'from', 'to'], ['count', 'probability']) || !isName(from) || !isName(to) || (count === undefined) === (probability === undefined)) return undefined;
      if (count !== undefined) return isCount(count, 1, SPEC_LIMITS.loopCount) ? { kind, from, to, count } : undefined;
      return typeof probability === 'number' && probability > 0 && probability < 1 ? { kind, from, to, probability } : undefined;
    }
    default:
      return undefined;
  }
}

function arrivalOf(value: unknown): SpecShape['arrival'] | undefined {
  if (!isPlain(value)) return undefined;
  if (value.kind === 'closed' && hasKeys(value, ['kind'], ['concurrency'])) {
    if (value.concurrency === undefined) return { kind: 'closed' };
    return isCount(value.concurrency, 1, Number.MAX_SAFE_INTEGER) ? { kind: 'closed', concurrency: value.concurrency } : undefined;
  }
  const { rate } = value;
  return value.kind === 'poisson' && hasKeys(value, ['kind', 'rate']) && typeof rate === 'number' && Number.isFinite(rate) && rate > 0 ? { kind: 'poisson', rate } : undefined;
}

/** The spec zod would return for `json`, when it is plainly valid; undefined when zod must look. */
export function plainlyValidSpec(json: unknown): SpecShape | undefined {
  if (!isPlain(json)) return undefined;
  for (const key in json) if (!SPEC_KEYS.has(key) || json[key] === undefined) return undefined;
  const { name, description } = json;
  if (!isName(name) || (description !== undefined && typeof description !== 'string')) return undefined;
  const blockSize = orDefault(json.blockSize, DEFAULT_BLOCK_SIZE, (v): v is number => isCount(v, 1, SPEC_LIMITS.blockSize));
  const rounds = orDefault(json.rounds, 1, (v): v is number => isCount(v, 1, SPEC_LIMITS.rounds));
  const instances = orDefault(json.instances, 1, (v): v is number => isCount(v, 1, SPEC_LIMITS.instances));
  const shareAgents = orDefault(json.shareAgents, true, (v): v is boolean => typeof v === 'boolean');
  const think = orDefault(json.think, 0, (v): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0);
  if (blockSize === undefined || rounds === undefined || instances === undefined || shareAgents === undefined || think === undefined || !isName(json.start)) return undefined;

  if (!isPlain(json.agents) || Object.hasOwn(json.agents, '__proto__') || Object.hasOwn(json.agents, '')) return undefined;
  const agents: Record<string, AgentSpec> = {};
  let agentCount = 0;
  for (const agentName in json.agents) {
    const agent = agentOf(json.agents[agentName]);
    if (!agent || ++agentCount > SPEC_LIMITS.agents) return undefined;
    agents[agentName] = agent;
  }
  if (agentCount === 0) return undefined;

  const rawEdges = json.edges ?? [];
  if (!Array.isArray(rawEdges) || rawEdges.length > SPEC_LIMITS.edges) return undefined;
  const edges = new Array<EdgeSpec>(rawEdges.length);
  for (let i = 0; i < rawEdges.length; i++) {
    const edge = edgeOf(rawEdges[i]);
    if (!edge) return undefined;
    edges[i] = edge;
  }

  let arrival: SpecShape['arrival'];
  if (json.arrival !== undefined && !(arrival = arrivalOf(json.arrival))) return undefined;
  return {
    name,
    ...(description !== undefined && { description }),
    blockSize,
    agents,
    edges,
    start: json.start,
    rounds,
    shareAgents,
    instances,
    ...(arrival !== undefined && { arrival }),
    think,
  };
}

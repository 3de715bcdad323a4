/**
 * The `agent_hints` the gateway sends an SGLang upstream (`sglang-hints` kind), in the shape of SGLang's
 * `AgentHints` (sgl-project/sglang PR #24993, `protocol.py`): ids and hashes as strings, counts and
 * durations as integers, `reuse_hint` one of "keep" | "offload" | "evict". The gateway fills what the
 * workflow it tracks tells it; the client's own fields, known or not, pass through underneath.
 */
import type { WorkflowHints } from '../http/hints.js';
import type { StepContext, StepTicket } from './workflow-registry.js';

/** The twelve fields of SGLang's AgentHints, with the PR's types. */
export interface SglangAgentHints {
  workflow_id?: string;
  agent_id?: string;
  step_id?: string;
  step_index?: number;
  total_steps?: number;
  parent_step_id?: string;
  children_step_ids?: string[];
  tool_name?: string;
  expected_tool_duration_ms?: number;
  cache_ttl_ms?: number;
  shared_prefix_hash?: string;
  reuse_hint?: 'keep' | 'offload' | 'evict';
}

/** An agent this many steps away or closer keeps its KV on the GPU; further away it may be offloaded. */
export const KEEP_WITHIN_STEPS = 1;

export interface HintSources {
  /** The client's `agent_hints` object, passed through (unknown fields included). */
  given: Record<string, unknown> | undefined;
  hints: WorkflowHints;
  tagKey: string | undefined;
  ticket: StepTicket | undefined;
  context: StepContext | undefined;
  /** Block id naming the agent's fixed prompt (its last page), if one is known. */
  fixedPrefixBlock: number | undefined;
}

/** The hints for one request, or undefined when neither the client nor the gateway has any. */
export function outgoingHints(sources: HintSources): Record<string, unknown> | undefined {
  const { given, hints, ticket, context } = sources;
  const filled: SglangAgentHints = {};
  if (hints.workflow !== undefined) filled.workflow_id = hints.workflow;
  const agent = sources.tagKey ?? hints.agent;
  if (agent !== undefined) filled.agent_id = agent;
  const step = ticket?.stepId ?? hints.step;
  if (step !== undefined) filled.step_id = step;
  if (ticket?.stepIndex !== undefined) filled.step_index = ticket.stepIndex;
  if (ticket?.parentStep !== undefined) filled.parent_step_id = ticket.parentStep;
  if (sources.fixedPrefixBlock !== undefined) filled.shared_prefix_hash = blockHash(sources.fixedPrefixBlock);
  if (context) {
    if (context.totalSteps !== undefined) filled.total_steps = context.totalSteps;
    if (context.children.length > 0) filled.children_step_ids = context.children;
    filled.reuse_hint = reuseHint(context.steAfter);
    if (Number.isFinite(context.steAfter) && context.meanStepSeconds !== undefined) {
      filled.cache_ttl_ms = Math.max(1, Math.round(Math.max(1, context.steAfter) * context.meanStepSeconds * 1000));
    }
  }
  const merged = { ...given, ...filled };
  return Object.keys(merged).length === 0 ? undefined : merged;
}

/** STE once the step ends -> SGLang's reuse hint. */
export function reuseHint(steAfter: number): 'keep' | 'offload' | 'evict' {
  if (!Number.isFinite(steAfter)) return 'evict';
  return steAfter <= KEEP_WITHIN_STEPS ? 'keep' : 'offload';
}

/** A block id (a chained hash below 2^53) as 14 hex digits. */
export function blockHash(block: number): string {
  return block.toString(16).padStart(14, '0');
}

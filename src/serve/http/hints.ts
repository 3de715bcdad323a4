import type { IncomingHttpHeaders } from 'node:http';
import type { AgentHints } from './openai-schema.js';

/** Where a request sits in a workflow, as far as the client said. */
export interface WorkflowHints {
  /** Workflow instance id. */
  workflow?: string;
  /** Agent name within the workflow. */
  agent?: string;
  /** Step id within the instance (identifies retries of the same step). */
  step?: string;
  /** Name of a workflow spec registered at the gateway. */
  spec?: string;
}

/** Request headers that carry workflow hints (lower case, as node delivers them). */
export const HINT_HEADERS = {
  workflow: 'x-kvflow-workflow',
  agent: 'x-kvflow-agent',
  step: 'x-kvflow-step',
  spec: 'x-kvflow-spec',
} as const;

/**
 * Reads hints from the body's `agent_hints` (SGLang), then the `x-kvflow-*` headers, then KVFlow's
 * top-level `agent_id`; the first source that gives a field wins.
 */
export function readHints(
  headers: IncomingHttpHeaders,
  body: { agent_hints?: AgentHints | null; agent_id?: string | null },
): WorkflowHints {
  const given = body.agent_hints ?? undefined;
  const found: WorkflowHints = {};
  const workflow = given?.workflow_id ?? header(headers, HINT_HEADERS.workflow);
  const agent = given?.agent_id ?? header(headers, HINT_HEADERS.agent) ?? body.agent_id ?? undefined;
  const step = given?.step_id ?? header(headers, HINT_HEADERS.step);
  const spec = given?.workflow_spec ?? header(headers, HINT_HEADERS.spec);
  if (workflow !== undefined) found.workflow = workflow;
  if (agent !== undefined) found.agent = agent;
  if (step !== undefined) found.step = step;
  if (spec !== undefined) found.spec = spec;
  return found;
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  const text = Array.isArray(value) ? value[0] : value;
  return text === undefined || text === '' ? undefined : text;
}

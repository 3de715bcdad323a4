import type { IncomingHttpHeaders } from 'node:http';
import { ApiError } from './openai-errors.js';
import type { AgentHints } from './openai-schema.js';

/** Longest hint value accepted (an agent name, instance or step id), in UTF-16 code units. */
export const MAX_HINT_LENGTH = 256;

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
  const workflow = checked('agent_hints.workflow_id', given?.workflow_id) ?? header(headers, HINT_HEADERS.workflow);
  const agent =
    checked('agent_hints.agent_id', given?.agent_id) ?? header(headers, HINT_HEADERS.agent) ?? checked('agent_id', body.agent_id ?? undefined);
  const step = checked('agent_hints.step_id', given?.step_id) ?? header(headers, HINT_HEADERS.step);
  const spec = checked('agent_hints.workflow_spec', given?.workflow_spec) ?? header(headers, HINT_HEADERS.spec);
  if (workflow !== undefined) found.workflow = workflow;
  if (agent !== undefined) found.agent = agent;
  if (step !== undefined) found.step = step;
  if (spec !== undefined) found.spec = spec;
  return found;
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  const text = Array.isArray(value) ? value[0] : value;
  return text === undefined || text === '' ? undefined : checked(name, decodeHintHeader(text));
}

/**
 * A hint value as a header: percent-encoded (RFC 3986 unreserved characters kept), so any Unicode name
 * travels in a header, which carries only Latin-1. Plain ASCII names without `%` stay as they are.
 */
export function encodeHintHeader(value: string): string {
  return /^[\x21-\x24\x26-\x7e]*$/.test(value) ? value : encodeURIComponent(value);
}

/** The inverse of `encodeHintHeader`; a value that is not valid percent-encoding is taken as it is. */
export function decodeHintHeader(text: string): string {
  if (!text.includes('%')) return text;
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** A hint value checked where it enters: bounded length, no control characters (they cannot travel in headers). */
function checked(field: string, value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (value.length > MAX_HINT_LENGTH) throw ApiError.invalid(`${field}: longer than ${MAX_HINT_LENGTH} characters`, field, 'invalid_hint');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(value)) throw ApiError.invalid(`${field}: contains a control character`, field, 'invalid_hint');
  return value;
}

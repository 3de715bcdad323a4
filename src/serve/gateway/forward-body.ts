/**
 * What each upstream kind receives: the client's bytes when nothing needs to change (the common case,
 * which costs no serialization), else the body with the workflow hints that kind understands.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { WorkflowHints } from '../http/hints.js';
import { encodeHintHeader, HINT_HEADERS } from '../http/hints.js';
import type { UpstreamKind } from './upstream.js';

/** Hop-by-hop and framing headers never forwarded as they are (RFC 9110 section 7.6.1, plus host and length). */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'content-length',
  'expect',
]);

export interface ForwardInput {
  raw: Buffer;
  value: Record<string, unknown>;
  hints: WorkflowHints;
  /** The key STE is published under for this request's agent. */
  tagKey: string | undefined;
  /** What a KVFlow fork gets as `agent_id`: the agent's integer id, or `'-1'` without an agent. */
  forkAgentId: string;
  /** The `agent_hints` an SGLang upstream with agent hints gets (the client's, completed by the gateway). */
  outgoingHints: Record<string, unknown> | undefined;
}

/** The request body for an upstream of `kind`. */
export function bodyFor(kind: UpstreamKind, input: ForwardInput): Buffer | string {
  const { value, tagKey, hints } = input;
  const hasHints = value.agent_hints !== undefined;
  switch (kind) {
    case 'openai': {
      if (!hasHints && value.agent_id === undefined) return input.raw;
      const { agent_hints: _hints, agent_id: _agent, ...rest } = value;
      return JSON.stringify(rest);
    }
    case 'sglang-hints': {
      const { agent_hints: _hints, agent_id: _agent, ...rest } = value;
      if (input.outgoingHints === undefined) return hasHints || value.agent_id !== undefined ? JSON.stringify(rest) : input.raw;
      return JSON.stringify({ ...rest, agent_hints: input.outgoingHints });
    }
    case 'kvflow-sglang': {
      // Always an agent_id: the fork tags cache nodes with it and, with --enable-holding, its eviction
      // path raises on None (agent_manager.py get_agent_hold_priority); '-1' is its "no agent".
      const { agent_hints: _hints, ...rest } = value;
      return JSON.stringify({ ...rest, agent_id: input.forkAgentId });
    }
    case 'kvflow': {
      // The engine reads x-kvflow-* headers; the body needs rewriting only when its own hints disagree.
      const given = value.agent_hints as { agent_id?: unknown } | null | undefined;
      if (tagKey === undefined || given?.agent_id === undefined || String(given.agent_id) === tagKey) return input.raw;
      return JSON.stringify({
        ...value,
        agent_hints: {
          ...given,
          agent_id: tagKey,
          ...(hints.workflow !== undefined && { workflow_id: hints.workflow }),
          ...(hints.step !== undefined && { step_id: hints.step }),
        },
      });
    }
  }
}

/**
 * Whose credentials reach the upstream: its own API key when the gateway has one for it, else the
 * client's `Authorization` unless that was the gateway's own key (which must not leak upstream).
 */
export interface UpstreamAuth {
  apiKey?: string | undefined;
  forwardClientAuthorization: boolean;
}

/** The client's end-to-end headers, plus the hint headers a kvflow engine reads. */
export function headersFor(kind: UpstreamKind, client: IncomingHttpHeaders, input: ForwardInput, auth?: UpstreamAuth): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const name of Object.keys(client)) {
    const value = client[name];
    if (value === undefined || HOP_BY_HOP.has(name)) continue;
    if (name === 'authorization' && auth && !auth.forwardClientAuthorization) continue;
    if (kind !== 'kvflow' && name.startsWith('x-kvflow-')) continue;
    headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  headers['content-type'] = 'application/json';
  if (auth?.apiKey !== undefined) headers.authorization = `Bearer ${auth.apiKey}`;
  if (kind === 'kvflow') {
    if (input.tagKey !== undefined) headers[HINT_HEADERS.agent] = encodeHintHeader(input.tagKey);
    if (input.hints.workflow !== undefined) headers[HINT_HEADERS.workflow] = encodeHintHeader(input.hints.workflow);
    if (input.hints.step !== undefined) headers[HINT_HEADERS.step] = encodeHintHeader(input.hints.step);
  }
  return headers;
}

/** Upstream response headers safe to relay to the client (the body is relayed byte for byte, so its length holds). */
export function relayHeaders(upstream: Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  for (const name of Object.keys(upstream)) {
    const value = upstream[name];
    if (value === undefined || (HOP_BY_HOP.has(name) && name !== 'content-length')) continue;
    headers[name] = value;
  }
  return headers;
}

/** How an upstream call failed, which decides between retrying elsewhere, 502, 504 and silence. */
export type UpstreamFailure = 'connect' | 'timeout' | 'aborted' | 'reset';

const CONNECT_CODES = new Set([
  'ECONNREFUSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);
const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/**
 * `connect`: the request never reached the upstream (safe to send elsewhere); `timeout`: it reached it
 * and no answer came in time; `aborted`: we aborted it because the client left; `reset`: anything else.
 */
export function classifyUpstreamError(error: unknown): UpstreamFailure {
  const code = errorCode(error);
  if (code !== undefined && CONNECT_CODES.has(code)) return 'connect';
  if (code !== undefined && TIMEOUT_CODES.has(code)) return 'timeout';
  if (code === 'UND_ERR_ABORTED' || (error instanceof Error && error.name === 'AbortError')) return 'aborted';
  return 'reset';
}

const DROPPED_CODES = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE']);

/**
 * Whether a `reset` was the connection closing under a request that had no answer yet: the keep-alive
 * race (the upstream closed an idle connection as the request was written on it), or an upstream that
 * died. Either way sending the request once more is safe for an inference call and, after the race,
 * succeeds on a fresh connection.
 */
export function droppedBeforeAnswer(error: unknown): boolean {
  const code = errorCode(error);
  return code !== undefined && DROPPED_CODES.has(code);
}

function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const own = (error as { code?: unknown }).code;
  if (typeof own === 'string') return own;
  const cause = (error as { cause?: unknown }).cause;
  return cause === undefined || cause === error ? undefined : errorCode(cause);
}

/**
 * What `auto` format detection (read.ts) looks for on a trace's first line, apart from the readers, so
 * that detecting a format loads only the reader of the format found.
 */

/** The header of the published Azure files; `auto` detects Azure by exactly this first line. */
export const AZURE_HEADER = 'TIMESTAMP,ContextTokens,GeneratedTokens';

/** The key whose presence marks a file as Mooncake. */
export const MOONCAKE_MARKER_KEY = 'hash_ids';

/** The key whose presence marks a file as LLMServingSim sessions. */
export const SERVINGSIM_MARKER_KEY = 'sub_requests';

/** The keys that, all present on the first line, mark a file as an LMCache agent trace. */
export const LMCACHE_MARKER_KEYS = ['timestamp', 'input', 'output', 'session_id'] as const;

/**
 * Importer for LMCache agent traces (LMCache/lmcache-agent-trace, see ../shared/traces/SOURCES.md):
 * JSONL lines `{"timestamp": µs, "input": prompt text, "output": completion text, "session_id"}`.
 * Prompts are tokenized (see tokenize.ts) and cut into blocks with chained hashing (`hashTokenBlocks`
 * in native.ts), so requests that share a token prefix share block ids. A session is a workflow;
 * agents are left for a learner to identify.
 *
 * Timing: timestamps are not monotonic inside a session, and a stable sort by `t` would reorder a
 * session's calls. So only the first request of each session is open loop (`t` = seconds since the
 * file's first timestamp); every later one is closed loop, `after` the session's previous request,
 * with no think time. Replay then keeps file order, and a simulation runs each session's calls in
 * file order, one after the other, with sessions starting at their logged times. Every request keeps
 * its logged time in `loggedT`, which `--sessions-start` re-times sessions by (sessions-start.ts).
 */
import type { z } from 'zod';
import { InputError } from '../errors.js';
import { hashTokenBlocks } from '../native.js';
import type { TraceRequest } from '../types.js';
import type { Line, LineParser } from './lines.js';
import { lazySchema } from './lazy-zod.js';
import { expecting, parseJsonLine } from './problem.js';
import { isJsonObject, isNonNegativeInt, nonNegativeInt, validateFields } from './schemas.js';
import type { Tokenizer } from './tokenize.js';

const MICROS_PER_SECOND = 1e6;

/** Field order here is the order problems are reported in. Unknown fields are ignored. */
export const lmcacheSchema = lazySchema((z) =>
  z.object(
    {
      timestamp: nonNegativeInt(),
      // An empty prompt is a real call with no prompt tokens (Magentic-One logged 46 WebSurfer calls so):
      // it becomes a zero-token request, counted by `trace stats` as emptyPrompts.
      input: z.string(expecting('a string (the prompt)')),
      output: z.string(expecting('a string')),
      session_id: z.string(expecting('a non-empty string')).min(1),
    },
    expecting('a JSON object'),
  ),
);
export type LmcacheLine = z.output<ReturnType<typeof lmcacheSchema>>;

const isNonEmptyString = (value: unknown) => typeof value === 'string' && value.length > 0;

/** Exactly what `lmcacheSchema` accepts, without its cost (see schemas.ts). Exported for that test. */
export function isLmcacheLine(value: unknown): value is LmcacheLine {
  return (
    isJsonObject(value) &&
    isNonNegativeInt(value.timestamp) &&
    typeof value.input === 'string' &&
    typeof value.output === 'string' &&
    isNonEmptyString(value.session_id)
  );
}

/** LMCache lines carry no id; the line number makes one that is unique and easy to trace back. */
export function lmcacheId(line: number): string {
  return `lm-${line}`;
}

/** Reads LMCache lines in file order, chaining each session's requests. */
export class LmcacheLineParser implements LineParser<TraceRequest> {
  /** The first valid line's timestamp: t = 0. */
  private origin: { timestamp: number; line: number } | undefined;
  /** Each session's latest request id: the next request of the session runs after it. */
  private readonly lastOfSession = new Map<string, string>();

  constructor(
    private readonly file: string,
    private readonly blockSize: number,
    private readonly tokenizer: Tokenizer,
  ) {}

  parse(line: Line): TraceRequest {
    const value = parseJsonLine(this.file, line);
    const fields = validateFields(lmcacheSchema, isLmcacheLine, value, this.file, line.line);
    const { timestamp, session_id: session } = fields;
    const previous = this.lastOfSession.get(session);
    const origin = this.origin ?? { timestamp, line: line.line };
    if (previous === undefined && timestamp < origin.timestamp) {
      throw InputError.atLine(
        this.file,
        line.line,
        'timestamp',
        `session ${JSON.stringify(session)} starts at ${timestamp} µs, ` +
          `before the trace does (${origin.timestamp} µs on line ${origin.line})`,
      );
    }

    // A prompt logged empty stays a zero-token request: no begin-of-text without text.
    const tokens = fields.input === '' ? [] : this.tokenizer.encode(fields.input);
    const request: TraceRequest = {
      id: lmcacheId(line.line),
      workflow: session,
      blocks: hashTokenBlocks(tokens, this.blockSize),
      blockSize: this.blockSize,
      inputLength: tokens.length,
      outputLength: this.tokenizer.count(fields.output),
      loggedT: (timestamp - origin.timestamp) / MICROS_PER_SECOND,
    };
    if (previous === undefined) request.t = (timestamp - origin.timestamp) / MICROS_PER_SECOND;
    else request.after = [previous];

    this.origin = origin;
    this.lastOfSession.set(session, request.id);
    return request;
  }
}

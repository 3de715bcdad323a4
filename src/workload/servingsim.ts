/**
 * Importer for LLMServingSim's agentic-session JSONL (casys-kaist/LLMServingSim, `serving/core/router.py`):
 * one session per line, `{"session_id", "arrival_time_ns", "sub_requests": [{"input_toks", "output_toks",
 * "tool_duration_ns", "input_tok_ids"?}, ...]}`. LLMServingSim sends a session's first sub-request at its
 * arrival time and each next one when the previous completes plus that one's tool duration; here that
 * is the first at `t`, each next one `after` the previous with `think` = the previous tool duration.
 * Blocks come from `input_tok_ids` by chained hashing (`hashTokenBlocks` in native.ts, which hashes token
 * ids as 32-bit words) when given, else every block is unique.
 *
 * As upstream, `session_id` and `tool_duration_ns` may be absent (a session named after its line, no
 * tool time) and a session with no sub-requests sends nothing. Flat (non-session) lines are not read.
 */
import type { z } from 'zod';
import { InputError } from '../errors.js';
import { hashTokenBlocks } from '../native.js';
import type { TraceRequest } from '../types.js';
import type { Line, LineParser } from './lines.js';
import { SERVINGSIM_MARKER_KEY } from './format-markers.js';
import { lazySchema } from './lazy-zod.js';
import { expecting, parseJsonLine } from './problem.js';
import {
  isJsonObject,
  isNonNegativeInt,
  isPositiveInt,
  nonNegativeInt,
  positiveInt,
  validateFields,
} from './schemas.js';
import { UniqueBlockIds } from './unique-blocks.js';

const NANOS_PER_SECOND = 1e9;

const subRequestSchema = lazySchema((z) =>
  z.object(
    {
      input_toks: positiveInt(),
      output_toks: nonNegativeInt(),
      tool_duration_ns: nonNegativeInt().optional(),
      input_tok_ids: z.array(nonNegativeInt(), expecting('an array of token ids')).optional(),
    },
    expecting('a sub-request object'),
  ),
);

/** Field order here is the order problems are reported in. Unknown fields are ignored. */
export const servingSimSchema = lazySchema((z) =>
  z.object(
    {
      session_id: z.string(expecting('a non-empty string')).min(1).optional(),
      arrival_time_ns: nonNegativeInt(),
      [SERVINGSIM_MARKER_KEY]: z.array(subRequestSchema(), expecting('an array of sub-requests')),
    },
    expecting('a JSON object'),
  ),
);
export type ServingSimLine = z.output<ReturnType<typeof servingSimSchema>>;
type SubRequest = ServingSimLine['sub_requests'][number];

const optional = (value: unknown, accepts: (value: unknown) => boolean) => value === undefined || accepts(value);
const isNonEmptyString = (value: unknown) => typeof value === 'string' && value.length > 0;

function isTokenIds(value: unknown): boolean {
  if (!Array.isArray(value)) return false;
  for (const id of value) if (!isNonNegativeInt(id)) return false;
  return true;
}

function isSubRequest(value: unknown): boolean {
  return (
    isJsonObject(value) &&
    isPositiveInt(value.input_toks) &&
    isNonNegativeInt(value.output_toks) &&
    optional(value.tool_duration_ns, isNonNegativeInt) &&
    optional(value.input_tok_ids, isTokenIds)
  );
}

/** Exactly what `servingSimSchema` accepts, without its cost (see schemas.ts). Exported for that test. */
export function isServingSimLine(value: unknown): value is ServingSimLine {
  return (
    isJsonObject(value) &&
    optional(value.session_id, isNonEmptyString) &&
    isNonNegativeInt(value.arrival_time_ns) &&
    Array.isArray(value[SERVINGSIM_MARKER_KEY]) &&
    value[SERVINGSIM_MARKER_KEY].every(isSubRequest)
  );
}

/** Sub-request `index` of the session on `line`: unique in the file and easy to trace back. */
export function servingSimId(line: number, index: number): string {
  return `ss-${line}-${index}`;
}

/** Reads session lines in file order; each line becomes its session's chain of requests. */
export class ServingSimLineParser implements LineParser<TraceRequest[]> {
  private readonly blocks = new UniqueBlockIds();
  /** Line of every session id seen: a session is one line, so an id may not come back. */
  private readonly sessionLines = new Map<string, number>();

  constructor(
    private readonly file: string,
    private readonly blockSize: number,
  ) {}

  parse(line: Line): TraceRequest[] {
    const value = parseJsonLine(this.file, line);
    const fields = validateFields(servingSimSchema, isServingSimLine, value, this.file, line.line);
    const session = fields.session_id ?? `ss-${line.line}`;
    const firstLine = this.sessionLines.get(session);
    if (firstLine !== undefined) {
      const problem = `duplicate session ${JSON.stringify(session)}, first used on line ${firstLine}`;
      throw InputError.atLine(this.file, line.line, 'session_id', problem);
    }
    fields.sub_requests.forEach((sub, index) => this.checkTokenIds(sub, index, line.line));

    const requests = fields.sub_requests.map((sub, index): TraceRequest => {
      const request: TraceRequest = {
        id: servingSimId(line.line, index),
        workflow: session,
        blocks: this.blocksOf(sub),
        blockSize: this.blockSize,
        inputLength: sub.input_toks,
        outputLength: sub.output_toks,
      };
      if (index === 0) {
        request.t = fields.arrival_time_ns / NANOS_PER_SECOND;
      } else {
        request.after = [servingSimId(line.line, index - 1)];
        const toolNanos = fields.sub_requests[index - 1]!.tool_duration_ns ?? 0;
        if (toolNanos > 0) request.think = toolNanos / NANOS_PER_SECOND;
      }
      return request;
    });
    this.sessionLines.set(session, line.line);
    return requests;
  }

  /** Token ids, when given, must be the whole prompt: one per input token. */
  private checkTokenIds(sub: SubRequest, index: number, line: number): void {
    const ids = sub.input_tok_ids;
    if (ids === undefined || ids.length === sub.input_toks) return;
    const field = `${SERVINGSIM_MARKER_KEY}.${index}.input_tok_ids`;
    const problem = `expected ${sub.input_toks} token ids (one per input_toks), got ${ids.length}`;
    throw InputError.atLine(this.file, line, field, problem);
  }

  private blocksOf(sub: SubRequest): number[] {
    if (sub.input_tok_ids !== undefined) return hashTokenBlocks(sub.input_tok_ids, this.blockSize);
    return this.blocks.forPrompt(sub.input_toks, this.blockSize);
  }
}

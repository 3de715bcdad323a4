/**
 * kvflow's canonical JSONL trace format (DESIGN.md section 3): reading one line into a `TraceRequest`
 * and writing one back. zod checks each field's shape; the rules that relate fields or lines (the
 * last block's size, `after` pointing backwards, unique ids) are checked here by hand.
 */
import type { z } from 'zod';
import { InputError } from '../errors.js';
import { DEFAULT_BLOCK_SIZE, type TraceRequest } from '../types.js';
import type { Line, LineParser } from './lines.js';
import { lazySchema } from './lazy-zod.js';
import { expecting, parseJsonLine } from './problem.js';
import {
  blockIds,
  isBlockIds,
  isJsonObject,
  isNonNegativeInt,
  isNonNegativeNumber,
  isPositiveInt,
  nonNegativeInt,
  nonNegativeNumber,
  positiveInt,
  validateFields,
} from './schemas.js';

/** Tokens per block when neither the line, the file header nor the caller gives one. */
export { DEFAULT_BLOCK_SIZE };

/** The key that marks an optional first-line header `{"kvflow_trace": 1, "block_size": N}`. */
export const HEADER_KEY = 'kvflow_trace';
const FORMAT_VERSION = 1;

const headerSchema = lazySchema((z) =>
  z.object({
    [HEADER_KEY]: z.literal(FORMAT_VERSION, expecting(`${FORMAT_VERSION} (the format version)`)),
    block_size: positiveInt(),
  }),
);
type HeaderLine = z.output<ReturnType<typeof headerSchema>>;

/** Field order here is the order problems are reported in. Unknown fields are ignored. */
export const requestSchema = lazySchema((z) =>
  z.object(
    {
      id: z.string(expecting('a non-empty string')).min(1),
      t: nonNegativeNumber().optional(),
      after: z.array(z.string(expecting('an id (a string)')), expecting('an array of ids')).optional(),
      think: nonNegativeNumber().optional(),
      workflow: z.string(expecting('a string')).optional(),
      agent: z.string(expecting('a string')).optional(),
      blocks: blockIds(),
      block_size: positiveInt().optional(),
      input_length: positiveInt(),
      output_length: nonNegativeInt(),
      fixed_blocks: nonNegativeInt().optional(),
      logged_t: z.number(expecting('a number (seconds)')).optional(),
    },
    expecting('a JSON object'),
  ),
);
export type RequestLine = z.output<ReturnType<typeof requestSchema>>;

/** Exactly what `headerSchema` accepts (unknown fields aside). */
function isHeaderLine(value: unknown): value is HeaderLine {
  return isJsonObject(value) && value[HEADER_KEY] === FORMAT_VERSION && isPositiveInt(value.block_size);
}

const optional = (value: unknown, accepts: (value: unknown) => boolean) => value === undefined || accepts(value);
const isString = (value: unknown) => typeof value === 'string';
const isNonEmptyString = (value: unknown) => typeof value === 'string' && value.length > 0;
const isStringArray = (value: unknown) => Array.isArray(value) && value.every(isString);

/** Exactly what `requestSchema` accepts, without its cost (see schemas.ts). Exported for that test. */
export function isRequestLine(value: unknown): value is RequestLine {
  return (
    isJsonObject(value) &&
    isNonEmptyString(value.id) &&
    optional(value.t, isNonNegativeNumber) &&
    optional(value.after, isStringArray) &&
    optional(value.think, isNonNegativeNumber) &&
    optional(value.workflow, isString) &&
    optional(value.agent, isString) &&
    isBlockIds(value.blocks) &&
    optional(value.block_size, isPositiveInt) &&
    isPositiveInt(value.input_length) &&
    isNonNegativeInt(value.output_length) &&
    optional(value.fixed_blocks, isNonNegativeInt) &&
    optional(value.logged_t, Number.isFinite)
  );
}

/** Reads canonical lines in file order, keeping what later lines are checked against. */
export class CanonicalLineParser implements LineParser<TraceRequest> {
  /** Line of every valid request's id: ids must be unique and `after` may only name earlier ones. */
  private readonly idLines = new Map<string, number>();
  private blockSize: number;
  /** A header may only come first: before any valid line (invalid ones count only under skipInvalid). */
  private headerAllowed = true;

  /** `blockSize` is the default for lines without `block_size` unless the file has a header. */
  constructor(
    private readonly file: string,
    blockSize: number = DEFAULT_BLOCK_SIZE,
  ) {
    this.blockSize = blockSize;
  }

  parse(line: Line): TraceRequest | undefined {
    const value = parseJsonLine(this.file, line);
    if (isHeader(value)) {
      this.readHeader(value, line.line);
      this.headerAllowed = false;
      return undefined;
    }
    const fields = validateFields(requestSchema, isRequestLine, value, this.file, line.line);
    const request = this.toRequest(fields, line.line);
    this.idLines.set(request.id, line.line);
    this.headerAllowed = false;
    return request;
  }

  private readHeader(value: object, line: number): void {
    if (!this.headerAllowed) {
      throw InputError.atLine(this.file, line, HEADER_KEY, 'a header is only allowed on the first line');
    }
    this.blockSize = validateFields(headerSchema, isHeaderLine, value, this.file, line).block_size;
  }

  /** Checks the rules zod cannot see (between fields and between lines) and renames to camelCase. */
  private toRequest(fields: RequestLine, line: number): TraceRequest {
    const fail = (field: string, problem: string) => InputError.atLine(this.file, line, field, problem);
    const { id, t, after, blocks } = fields;

    const firstLine = this.idLines.get(id);
    if (firstLine !== undefined) {
      throw fail('id', `duplicate id ${JSON.stringify(id)}, first used on line ${firstLine}`);
    }
    if (t === undefined && after === undefined) {
      throw fail('t', 'missing, expected a number >= 0 (required unless "after" is given)');
    }
    for (const [i, dependency] of (after ?? []).entries()) {
      if (!this.idLines.has(dependency)) {
        throw fail(`after.${i}`, `unknown id ${JSON.stringify(dependency)}: must be the id of an earlier line`);
      }
    }

    const blockSize = fields.block_size ?? this.blockSize;
    const fullBlocks = (blocks.length - 1) * blockSize;
    if (fields.input_length <= fullBlocks || fields.input_length > fullBlocks + blockSize) {
      throw fail(
        'input_length',
        `expected ${fullBlocks + 1}..${fullBlocks + blockSize} ` +
          `for ${plural(blocks.length, 'block')} of ${blockSize} tokens ` +
          `(all blocks full but the last, which holds 1..${blockSize}), got ${fields.input_length}`,
      );
    }
    if (fields.fixed_blocks !== undefined && fields.fixed_blocks > blocks.length) {
      const problem = `expected at most ${blocks.length} (the number of blocks), got ${fields.fixed_blocks}`;
      throw fail('fixed_blocks', problem);
    }

    const request: TraceRequest = {
      id,
      blocks,
      blockSize,
      inputLength: fields.input_length,
      outputLength: fields.output_length,
    };
    if (t !== undefined) request.t = t;
    if (after !== undefined) request.after = after;
    if (fields.think !== undefined) request.think = fields.think;
    if (fields.workflow !== undefined) request.workflow = fields.workflow;
    if (fields.agent !== undefined) request.agent = fields.agent;
    if (fields.fixed_blocks !== undefined) request.fixedBlocks = fields.fixed_blocks;
    if (fields.logged_t !== undefined) request.loggedT = fields.logged_t;
    return request;
  }
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

function isHeader(value: unknown): value is object {
  return typeof value === 'object' && value !== null && Object.hasOwn(value, HEADER_KEY);
}

/**
 * One canonical JSONL line (no newline) for a request: snake_case keys in a fixed order so that files
 * diff cleanly, optional fields left out when absent. `readTrace` gives back an equal request.
 */
export function formatRequestJsonl(request: TraceRequest): string {
  const line = {
    id: request.id,
    t: request.t,
    after: request.after,
    think: request.think,
    workflow: request.workflow,
    agent: request.agent,
    block_size: request.blockSize,
    input_length: request.inputLength,
    output_length: request.outputLength,
    fixed_blocks: request.fixedBlocks,
    logged_t: request.loggedT,
    blocks: request.blocks,
  };
  return JSON.stringify(line); // JSON.stringify drops the undefined fields
}

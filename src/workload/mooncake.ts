/**
 * Importer for Mooncake traces (kvcache-ai/Mooncake FAST'25 release, see ../shared/traces/SOURCES.md):
 * JSONL lines `{"timestamp": ms, "input_length", "output_length", "hash_ids": [...]}` where every
 * hash id names one 512-token block. Each line becomes one open-loop canonical request.
 */
import type { z } from 'zod';
import { InputError } from '../errors.js';
import type { TraceRequest } from '../types.js';
import type { Line, LineParser } from './lines.js';
import { MOONCAKE_MARKER_KEY } from './format-markers.js';
import { lazySchema } from './lazy-zod.js';
import { scanMooncakeLine, type MooncakeFields } from './mooncake-bytes.js';
import { expecting, parseJsonLine } from './problem.js';
import {
  blockIds,
  isBlockIds,
  isJsonObject,
  isNonNegativeInt,
  isPositiveInt,
  nonNegativeInt,
  positiveInt,
  validateFields,
} from './schemas.js';

/** Mooncake hashes prompts in blocks of this many tokens, always. */
export const MOONCAKE_BLOCK_SIZE = 512;

/** Field order here is the order problems are reported in. Unknown fields are ignored. */
export const mooncakeSchema = lazySchema((z) =>
  z.object(
    {
      timestamp: nonNegativeInt(),
      input_length: positiveInt(),
      output_length: nonNegativeInt(),
      [MOONCAKE_MARKER_KEY]: blockIds(),
    },
    expecting('a JSON object'),
  ),
);
export type MooncakeLine = z.output<ReturnType<typeof mooncakeSchema>>;

/** Exactly what `mooncakeSchema` accepts, without its cost (see schemas.ts). Exported for that test. */
export function isMooncakeLine(value: unknown): value is MooncakeLine {
  return (
    isJsonObject(value) &&
    isNonNegativeInt(value.timestamp) &&
    isPositiveInt(value.input_length) &&
    isNonNegativeInt(value.output_length) &&
    isBlockIds(value[MOONCAKE_MARKER_KEY])
  );
}

/** Mooncake lines carry no id; the line number makes one that is unique and easy to trace back. */
export function mooncakeId(line: number): string {
  return `mc-${line}`;
}

/** Reads Mooncake lines in file order, checking that timestamps never go backwards. */
export class MooncakeLineParser implements LineParser<TraceRequest> {
  /** Never used: keeps this class's object layout, and the reader's optimised code, alive between reads (see `LineChunk.layoutKeeper`). */
  static readonly layoutKeeper: MooncakeLineParser = new MooncakeLineParser('');
  private lastTimestamp = 0;
  private lastTimestampLine = 0;
  private readonly scanned: MooncakeFields = { timestamp: 0, inputLength: 0, outputLength: 0, blocks: [] };

  constructor(private readonly file: string) {}

  parse(line: Line): TraceRequest {
    const value = parseJsonLine(this.file, line);
    const fields = validateFields(mooncakeSchema, isMooncakeLine, value, this.file, line.line);
    return this.request(line.line, fields.timestamp, fields.input_length, fields.output_length, fields.hash_ids);
  }

  /** The published traces' line shape straight from bytes (mooncake-bytes.ts); `null` leaves the line to `parse`. */
  parseBytes(bytes: Uint8Array, start: number, end: number, line: number): TraceRequest | null {
    const fields = this.scanned;
    // A zero input_length or a wrong number of ids is invalid: `parse` words the problem.
    if (!scanMooncakeLine(bytes, start, end, MOONCAKE_BLOCK_SIZE, fields)) return null;
    return this.request(line, fields.timestamp, fields.inputLength, fields.outputLength, fields.blocks);
  }

  /** The request of a line whose fields are each valid: checks what spans fields and lines. */
  private request(line: number, timestamp: number, inputLength: number, outputLength: number, blocks: number[]): TraceRequest {
    if (timestamp < this.lastTimestamp) {
      const previous = `${this.lastTimestamp} ms on line ${this.lastTimestampLine}`;
      throw InputError.atLine(this.file, line, 'timestamp', `goes backwards: ${timestamp} ms after ${previous}`);
    }
    const expectedBlocks = Math.ceil(inputLength / MOONCAKE_BLOCK_SIZE);
    if (blocks.length !== expectedBlocks) {
      throw InputError.atLine(
        this.file,
        line,
        MOONCAKE_MARKER_KEY,
        `expected ${expectedBlocks} ids (one per ${MOONCAKE_BLOCK_SIZE} tokens of input_length ${inputLength}), ` +
          `got ${blocks.length}`,
      );
    }

    this.lastTimestamp = timestamp;
    this.lastTimestampLine = line;
    return new MooncakeRequest(mooncakeId(line), timestamp / 1000, blocks, inputLength, outputLength);
  }
}

/**
 * A Mooncake line's request: the same fields, in the same order, as a `TraceRequest` literal. Made by a
 * constructor rather than as a literal because literals carry an allocation site, and V8's pretenuring,
 * deciding per site, would sometimes allocate every request straight in the old generation (with its ids
 * young), which made a process's later reads 2-3x slower (bench/parse-mooncake.ts, warm).
 */
class MooncakeRequest implements TraceRequest {
  // Assigned in the literal's order, so the object's keys (and any JSON of it) come out as before.
  id: string;
  t: number;
  blocks: number[];
  blockSize: number;
  inputLength: number;
  outputLength: number;

  constructor(id: string, t: number, blocks: number[], inputLength: number, outputLength: number) {
    this.id = id;
    this.t = t;
    this.blocks = blocks;
    this.blockSize = MOONCAKE_BLOCK_SIZE;
    this.inputLength = inputLength;
    this.outputLength = outputLength;
  }
}

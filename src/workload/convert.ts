/**
 * Converting a trace of any format into canonical kvflow JSONL, streamed: requests go out as they
 * are read, so memory stays flat however long the trace (per-session state aside).
 */
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { TraceFormat, TraceRequest } from '../types.js';
import { formatRequestJsonl, HEADER_KEY } from './canonical.js';
import { streamTrace, type StreamTraceOptions, type TraceStats } from './read.js';
import { retimeSessions, type SessionsStart } from './sessions-start.js';

export interface ConvertOptions extends StreamTraceOptions {
  /** Re-times sessions (which needs the whole trace in memory: the output is sorted by the new times). */
  sessionsStart?: SessionsStart;
  /** Seed for `poisson` session starts. */
  seed?: number;
}

/** What a conversion read and wrote. */
export interface ConvertSummary {
  format: TraceFormat | undefined;
  requests: number;
  /** Invalid lines skipped under `skipInvalid`. */
  skipped: number;
}

/** Lines are joined into writes of about this many characters: one write per line is slow. */
const WRITE_CHARS = 1 << 16;
/** The canonical format version a header declares (see canonical.ts). */
const CANONICAL_VERSION = 1;

/**
 * Writes the requests of `path` to `destination` as canonical JSONL: a header line
 * `{"kvflow_trace": 1, "block_size": N}` (the first request's block size), then one line per request.
 * `destination` is left open (it may be stdout). Throws what `streamTrace` throws; lines converted
 * before an invalid one have been written by then.
 */
export async function convertTrace(
  path: string,
  destination: Writable,
  opts: ConvertOptions = {},
): Promise<ConvertSummary> {
  const stats: TraceStats = opts.stats ?? { format: undefined, skipped: 0 };
  const counter = { requests: 0 };
  const read = streamTrace(path, { ...opts, stats });
  const requests = opts.sessionsStart ? retimed(read, opts.sessionsStart, opts.seed ?? 1) : read;
  const source = Readable.from(canonicalChunks(requests, counter));
  await pipeline(source, destination, { end: false });
  return { format: stats.format, requests: counter.requests, skipped: stats.skipped };
}

/**
 * `convertTrace` into the file `outPath`, which appears only complete: the output goes to a
 * temporary file beside it, renamed over `outPath` on success and removed on failure.
 */
export async function convertTraceToFile(
  path: string,
  outPath: string,
  opts: ConvertOptions = {},
): Promise<ConvertSummary> {
  const partial = join(dirname(outPath), `.${basename(outPath)}.${process.pid}.partial`);
  const file = createWriteStream(partial);
  try {
    const summary = await convertTrace(path, file, opts);
    await new Promise<void>((resolve, reject) => file.end((err?: Error | null) => (err ? reject(err) : resolve())));
    await rename(partial, outPath);
    return summary;
  } catch (err) {
    file.destroy();
    await rm(partial, { force: true });
    throw err;
  }
}

async function* retimed(requests: AsyncIterable<TraceRequest>, start: SessionsStart, seed: number): AsyncGenerator<TraceRequest> {
  const all: TraceRequest[] = [];
  for await (const request of requests) all.push(request);
  yield* retimeSessions(all, start, seed);
}

async function* canonicalChunks(
  requests: AsyncIterable<TraceRequest>,
  counter: { requests: number },
): AsyncGenerator<string> {
  let chunk = '';
  for await (const request of requests) {
    if (counter.requests === 0) chunk += formatHeaderJsonl(request.blockSize) + '\n';
    counter.requests++;
    chunk += formatRequestJsonl(request) + '\n';
    if (chunk.length >= WRITE_CHARS) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk !== '') yield chunk;
}

/** The canonical header line: the default block size for lines that give none. */
export function formatHeaderJsonl(blockSize: number): string {
  return JSON.stringify({ [HEADER_KEY]: CANONICAL_VERSION, block_size: blockSize });
}

/** Writing canonical JSONL trace files, streamed so generated traces need not fit in memory. */
import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { TraceRequest } from '../types.js';
import { formatRequestJsonl } from './canonical.js';

/** Lines are joined into writes of about this many characters: one write per line is slow. */
const WRITE_CHARS = 1 << 16;

/** Writes `requests` to `path` as canonical JSONL, one request per line, replacing the file. */
export async function writeTrace(
  path: string,
  requests: Iterable<TraceRequest> | AsyncIterable<TraceRequest>,
): Promise<void> {
  await pipeline(Readable.from(jsonlChunks(requests)), createWriteStream(path));
}

async function* jsonlChunks(requests: Iterable<TraceRequest> | AsyncIterable<TraceRequest>): AsyncGenerator<string> {
  let chunk = '';
  for await (const request of requests) {
    chunk += formatRequestJsonl(request) + '\n';
    if (chunk.length >= WRITE_CHARS) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk !== '') yield chunk;
}

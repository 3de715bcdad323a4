/**
 * The C reference of lru replay (bench/lru-replay.c): compiled here with the system C compiler, into a
 * temporary folder, never at install. It reads the trace as a flat binary file this module writes.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TraceRequest } from '../src/types.js';
import { repoRoot } from './paths.js';

export interface NativeReplay {
  hitTokens: number;
  evictions: number;
  /** CPU seconds of each run (CLOCK_PROCESS_CPUTIME_ID), the first one warming caches. */
  cpuSeconds: number[];
}

/** A runner for the C reference on `requests`, or the reason there is none (no compiler, build error). */
export function nativeLruReplay(requests: readonly TraceRequest[], blockSize: number): ((capacityTokens: number, runs: number) => NativeReplay) | string {
  const dir = mkdtempSync(join(tmpdir(), 'kvflow-bench-'));
  const binary = join(dir, 'lru-replay');
  const compiler = process.env.CC ?? 'cc';
  const build = spawnSync(compiler, ['-O2', '-o', binary, join(repoRoot, 'bench/lru-replay.c')], { encoding: 'utf8' });
  if (build.error || build.status !== 0) return `C reference not built (${compiler}: ${build.error?.message ?? build.stderr.trim()})`;
  const tracePath = join(dir, 'trace.bin');
  writeFileSync(tracePath, flatTrace(requests, blockSize));
  return (capacityTokens, runs) => {
    const run = spawnSync(binary, [tracePath, String(capacityTokens), String(runs)], { encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`lru-replay failed: ${run.stderr}`);
    return JSON.parse(run.stdout) as NativeReplay;
  };
}

/** u32 requests, u32 block size, then per request u32 input_length, u32 blocks, f64 block ids. */
function flatTrace(requests: readonly TraceRequest[], blockSize: number): Buffer {
  let size = 8;
  for (const request of requests) size += 8 + 8 * request.blocks.length;
  const buffer = Buffer.alloc(size);
  buffer.writeUInt32LE(requests.length, 0);
  buffer.writeUInt32LE(blockSize, 4);
  let at = 8;
  for (const request of requests) {
    buffer.writeUInt32LE(request.inputLength, at);
    buffer.writeUInt32LE(request.blocks.length, at + 4);
    at += 8;
    for (const block of request.blocks) {
      buffer.writeDoubleLE(block, at);
      at += 8;
    }
  }
  return buffer;
}

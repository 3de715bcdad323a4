/**
 * Scale benchmark (issue 4): a synthetic Mooncake-format trace of 10 million requests (4 pages each,
 * prefixes shared Zipf-style) replayed in one streaming pass with lru and belady at 1M tokens. Reports
 * throughput and the process's peak RSS, which must stay bounded: no per-request objects are kept.
 * Runs only when asked (`npm run bench -- scale`): writing and reading the 800 MB file takes a minute.
 */
import { policyFactory } from '../src/cache/policy-registry.js';
import { createWriteStream, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { replayStream } from '../src/replay/replay-stream.js';
import { streamTrace } from '../src/workload/trace.js';
import { Rng } from '../src/workload/rng.js';
import type { BenchLine } from './replay.js';

const REQUESTS = 10_000_000;

export async function benchScale(): Promise<BenchLine[]> {
  const path = join(tmpdir(), `kvflow-scale-${REQUESTS}.jsonl`);
  if (!existsSync(path)) await writeSyntheticTrace(path);
  const rssBefore = process.memoryUsage().rss;
  let peak = rssBefore;
  const started = performance.now();
  const report = await replayStream(path, streamTrace(path, { format: 'mooncake' }), {
    policies: ['lru', 'belady'].map(policyFactory),
    capacities: [2 ** 20],
    onProgress: () => (peak = Math.max(peak, process.memoryUsage().rss)),
  });
  const wall = (performance.now() - started) / 1000;
  const [lru, belady] = report.results;
  return [
    { name: 'scale: requests / page references', value: `${report.trace.requests} / ${report.trace.pages}` },
    { name: 'scale: parse + lru + belady, one pass', value: `${wall.toFixed(1)} s wall, ${(report.trace.requests / wall / 1000).toFixed(0)}k req/s` },
    { name: 'scale: hit rate lru / belady at 1M', value: `${(lru!.hitRate * 100).toFixed(2)}% / ${(belady!.hitRate * 100).toFixed(2)}%` },
    { name: 'scale: peak RSS during the replay', value: `${(peak / 2 ** 20).toFixed(0)} MiB (${((peak - rssBefore) / report.trace.pages).toFixed(1)} bytes per page reference over the start)` },
  ];
}

/** 4 pages per request: a shared "system prompt" page, a "conversation" page, then two fresh ones. */
async function writeSyntheticTrace(path: string): Promise<void> {
  const out = createWriteStream(path);
  const rng = new Rng(7);
  let fresh = 10_000_000;
  for (let i = 0; i < REQUESTS; i++) {
    const system = Math.floor(1000 * rng.next() ** 3);
    const conversation = 1000 + Math.floor(200_000 * rng.next() ** 2);
    const line = `{"timestamp": ${Math.floor(i / 10)}, "input_length": 2000, "output_length": 16, "hash_ids": [${system}, ${conversation}, ${fresh++}, ${fresh++}]}\n`;
    if (!out.write(line)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

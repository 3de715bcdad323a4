/**
 * Replay benchmark (issue 2): the Mooncake conversation trace (12,031 requests, 288,500 page references)
 * with lru and belady at 1M and 16M tokens, timed by tinybench; then whole runs of parse + replay.
 */
import { Bench } from 'tinybench';
import { computeNextUse } from '../src/cache/next-use.js';
import { replayTrace } from '../src/replay/replay.js';
import type { PolicyName } from '../src/types.js';
import { readTrace } from '../src/workload/trace.js';
import { sharedTrace } from './paths.js';

export interface BenchLine {
  name: string;
  value: string;
}

export async function benchReplay(): Promise<BenchLine[]> {
  const path = sharedTrace('mooncake_conversation_trace.jsonl');
  const trace = await readTrace(path);
  const requests = trace.requests;
  const pages = requests.reduce((sum, r) => sum + r.blocks.length, 0);
  const nextUse = computeNextUse(requests);
  const blockSize = 512;

  const bench = new Bench({ time: 1500, warmupTime: 300 });
  const cases: [PolicyName, number][] = [['lru', 2 ** 20], ['lru', 2 ** 24], ['belady', 2 ** 20], ['belady', 2 ** 24]];
  for (const [policy, capacityTokens] of cases) {
    bench.add(`replay ${policy} ${capacityTokens / 2 ** 20}M`, () => {
      replayTrace(requests, { policy, capacityTokens, blockSize, ...(policy === 'belady' && { nextUse }) });
    });
  }
  bench.add('belady next-use index', () => {
    computeNextUse(requests);
  });
  bench.add('parse mooncake (12,031 lines)', async () => {
    await readTrace(path);
  });
  bench.add('parse + replay lru 1M', async () => {
    const t = await readTrace(path);
    replayTrace(t.requests, { policy: 'lru', capacityTokens: 2 ** 20, blockSize });
  });
  await bench.run();

  const lines: BenchLine[] = [];
  for (const task of bench.tasks) {
    const latency = task.result?.state === 'completed' ? task.result.latency : undefined;
    if (!latency) continue;
    const ms = latency.mean;
    const perSecond = task.name.startsWith('replay') ? `, ${fmt(requests.length / (ms / 1000))} req/s, ${fmt(pages / (ms / 1000))} pages/s` : '';
    lines.push({ name: task.name, value: `${ms.toFixed(2)} ms mean (p99 ${latency.p99.toFixed(2)} ms)${perSecond}` });
  }
  return lines;
}

function fmt(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : n.toFixed(0);
}

/**
 * The evaluation behind docs/results.md's `reuse` section, printed as Markdown:
 * `npm run build && node dist/bench/reuse-eval.js [tables|curve|ablation|checks]` (all by default).
 * Every number is a whole-trace cache-only replay (DESIGN.md section 4); nothing here is timed except the
 * throughput line, which is a ratio to LRU in the same process.
 */
import { computeNextUse, type NextUseIndex } from '../src/cache/next-use.js';
import { policyFactory } from '../src/cache/policy-registry.js';
import { REUSE_DEFAULTS, ReusePolicy } from '../src/cache/reuse/reuse-policy.js';
import { FEATURE_NAMES } from '../src/cache/reuse/features.js';
import { CacheReplayer, replayTrace } from '../src/replay/replay.js';
import { replayOrder } from '../src/workload/request-order.js';
import type { PolicyName, TraceRequest } from '../src/types.js';
import { readTrace } from '../src/workload/trace.js';
import { sharedTrace } from './paths.js';

const M = 2 ** 20;
const k = 2 ** 10;
const POLICIES: PolicyName[] = ['lru', 'lfu', 'reuse', 'belady'];
const TRACES: { file: string; capacities: number[] }[] = [
  { file: 'mooncake_conversation_trace.jsonl', capacities: [256 * k, M, 4 * M, 16 * M, 64 * M] },
  { file: 'lmcache_agent_magagent.jsonl', capacities: [64 * k, 256 * k, M, 4 * M] },
  { file: 'lmcache_agent_miniswe.jsonl', capacities: [64 * k, 256 * k, M, 4 * M] },
];

const pct = (x: number) => (100 * x).toFixed(2);
const closed = (lru: number, x: number, belady: number) => (belady - lru > 1e-3 ? `${((100 * (x - lru)) / (belady - lru)).toFixed(1)}%` : 'n/a');

async function tables(): Promise<void> {
  for (const { file, capacities } of TRACES) {
    // LMCache's magagent has lines with an empty prompt: skipped (and counted), as `replay --skip-invalid` does.
    const trace = await readTrace(sharedTrace(file), { skipInvalid: true });
    const requests = replayOrder(trace.requests);
    const blockSize = requests[0]!.blockSize;
    const nextUse = computeNextUse(requests);
    const skipped = trace.skipped > 0 ? `, ${trace.skipped} invalid lines skipped` : '';
    console.log(`\n#### ${file} (${requests.length} requests, block ${blockSize} tokens${skipped})\n`);
    console.log('| capacity | lru | lfu | reuse | belady | gap closed by reuse |');
    console.log('|---|---|---|---|---|---|');
    for (const capacityTokens of capacities) {
      const rate = (policy: PolicyName) => replayTrace(requests, { policy: policyFactory(policy), capacityTokens, blockSize, nextUse }).hitRate;
      const [lru, lfu, reuse, belady] = POLICIES.map(rate) as [number, number, number, number];
      console.log(`| ${label(capacityTokens)} | ${pct(lru)} | ${pct(lfu)} | ${pct(reuse)} | ${pct(belady)} | ${closed(lru, reuse, belady)} |`);
    }
  }
}

/** Hits per request for one policy, so any slice of the trace can be scored. */
function hitsPerRequest(requests: readonly TraceRequest[], policy: PolicyName, capacityTokens: number, nextUse: NextUseIndex): Float64Array {
  const replayer = new CacheReplayer(requests, { policy: policyFactory(policy), capacityTokens, blockSize: requests[0]!.blockSize, nextUse });
  const hits = new Float64Array(requests.length);
  for (let r = 0; r < requests.length; r++) hits[r] = replayer.run(r);
  return hits;
}

async function curve(): Promise<void> {
  const requests = (await readTrace(sharedTrace('mooncake_conversation_trace.jsonl'))).requests;
  const nextUse = computeNextUse(requests);
  console.log('\n| tenth | requests | gap closed at 1M | gap closed at 4M |');
  console.log('|---|---|---|---|');
  const runs = [M, 4 * M].map((capacity) => ({
    lru: hitsPerRequest(requests, 'lru', capacity, nextUse),
    reuse: hitsPerRequest(requests, 'reuse', capacity, nextUse),
    belady: hitsPerRequest(requests, 'belady', capacity, nextUse),
  }));
  const tenth = Math.ceil(requests.length / 10);
  for (let t = 0; t < 10; t++) {
    const from = t * tenth;
    const to = Math.min(requests.length, from + tenth);
    const sum = (a: Float64Array) => a.subarray(from, to).reduce((s, x) => s + x, 0);
    const cells = runs.map((run) => closed(sum(run.lru), sum(run.reuse), sum(run.belady)));
    console.log(`| ${t + 1} | ${from}-${to - 1} | ${cells.join(' | ')} |`);
  }
}

async function ablation(): Promise<void> {
  const requests = (await readTrace(sharedTrace('mooncake_conversation_trace.jsonl'))).requests;
  const blockSize = requests[0]!.blockSize;
  const rate = (capacityTokens: number, without: readonly string[]) =>
    replayTrace(requests, { policy: new ReusePolicy({ without }), capacityTokens, blockSize }).hitRate;
  const base = [...REUSE_DEFAULTS.without];
  const full = [rate(M, base), rate(4 * M, base)];
  console.log('\n| left out | hit rate 1M | change | hit rate 4M | change |');
  console.log('|---|---|---|---|---|');
  console.log(`| (none; default set, without ${base.join(', ') || 'nothing'}) | ${pct(full[0]!)} | | ${pct(full[1]!)} | |`);
  for (const name of FEATURE_NAMES) {
    const without = base.includes(name) ? base.filter((n) => n !== name) : [...base, name];
    const a = rate(M, without);
    const b = rate(4 * M, without);
    if (base.includes(name)) {
      console.log(`| (put back) ${name} | ${pct(a)} | ${sign(a - full[0]!)} | ${pct(b)} | ${sign(b - full[1]!)} |`);
      continue;
    }
    console.log(`| ${name} | ${pct(a)} | ${sign(a - full[0]!)} | ${pct(b)} | ${sign(b - full[1]!)} |`);
  }
}

async function checks(): Promise<void> {
  const requests = (await readTrace(sharedTrace('mooncake_conversation_trace.jsonl'))).requests;
  const blockSize = requests[0]!.blockSize;
  const run = () => JSON.stringify({ ...replayTrace(requests, { policy: policyFactory('reuse'), capacityTokens: M, blockSize }), seconds: 0 });
  console.log(`\ndeterminism (two runs, 1M, JSON without timing): ${run() === run() ? 'byte-identical' : 'DIFFERENT'}`);
  // Causality: replace every request from `cut` on by a shuffled copy; hits before `cut` must not move.
  const cut = Math.floor(requests.length / 2);
  const original = hitsPerRequest(requests, 'reuse', M, computeNextUse(requests));
  const tail = requests.slice(cut).reverse();
  const changed = [...requests.slice(0, cut), ...tail];
  const after = hitsPerRequest(changed, 'reuse', M, computeNextUse(changed));
  let same = 0;
  for (let r = 0; r < cut; r++) if (original[r] === after[r]) same++;
  console.log(`causality (requests ${cut}.. reversed): ${same} of ${cut} earlier requests have identical hits`);
  const lru = replayTrace(requests, { policy: policyFactory('lru'), capacityTokens: M, blockSize });
  const reuse = replayTrace(requests, { policy: policyFactory('reuse'), capacityTokens: M, blockSize });
  const pages = requests.reduce((s, r) => s + r.blocks.length, 0);
  console.log(
    `throughput at 1M: lru ${(pages / lru.seconds / 1e6).toFixed(2)}M page refs/s, reuse ${(pages / reuse.seconds / 1e6).toFixed(3)}M page refs/s (${(reuse.seconds / lru.seconds).toFixed(0)}x lru's time)`,
  );
}

function label(tokens: number): string {
  return tokens >= M ? `${tokens / M}M` : `${tokens / k}k`;
}
function sign(x: number): string {
  return `${x >= 0 ? '+' : ''}${(100 * x).toFixed(2)}`;
}

const parts: Record<string, () => Promise<void>> = { tables, curve, ablation, checks };
const only = process.argv.slice(2);
for (const [name, part] of Object.entries(parts)) if (only.length === 0 || only.includes(name)) await part();

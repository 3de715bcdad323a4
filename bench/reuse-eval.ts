/**
 * The evaluation behind docs/results.md's `reuse` section, printed as Markdown:
 * `npm run build && node dist/bench/reuse-eval.js [tables|curve|ablation|model|limits|oracles|checks|simulate]` (all by
 * default). Every number but `simulate`'s is a whole-trace cache-only replay (docs/semantics.md); nothing
 * is timed except CPU time as a ratio to LRU in the same process (`model`, `checks`).
 */
import { loadavg } from 'node:os';
import { computeNextUse, type NextUseIndex } from '../src/cache/next-use.js';
import { policyFactory } from '../src/cache/policy-registry.js';
import { REUSE_DEFAULTS, ReusePolicy, type ReuseOptions } from '../src/cache/reuse/reuse-policy.js';
import { BinnedLogistic } from '../src/cache/reuse/binned-logistic.js';
import { CONVERSATION_FEATURES, CONVERSATION_WIDTH } from '../src/cache/reuse/conversation-features.js';
import { ReuseLearner } from '../src/cache/reuse/reuse-learner.js';
import type { EvictionPolicy, PolicyContext, PriorityOwner } from '../src/cache/policy.js';
import { CacheReplayer, replayTrace } from '../src/replay/replay.js';
import { replayOrder } from '../src/workload/request-order.js';
import type { PolicyName, TraceRequest } from '../src/types.js';
import { readTrace } from '../src/workload/trace.js';
import { resolveHardware } from '../src/sim/hardware.js';
import { servingOptions, simulate } from '../src/sim/simulate.js';
import { setupByName } from '../src/sim/setups.js';
import { sharedTrace } from './paths.js';
import { auc, oracles } from './reuse-oracles.js';

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
  const rate = (capacityTokens: number, conversationWithout: readonly string[]) =>
    replayTrace(requests, { policy: new ReusePolicy({ conversationWithout }, capacityTokens / blockSize), capacityTokens, blockSize }).hitRate;
  const full = [rate(M, []), rate(4 * M, [])];
  console.log('\n| left out | hit rate 1M | change | hit rate 4M | change |');
  console.log('|---|---|---|---|---|');
  console.log(`| (none; every group) | ${pct(full[0]!)} | | ${pct(full[1]!)} | |`);
  for (const { name } of CONVERSATION_FEATURES) {
    const a = rate(M, [name]);
    const b = rate(4 * M, [name]);
    console.log(`| ${name} | ${pct(a)} | ${sign(a - full[0]!)} | ${pct(b)} | ${sign(b - full[1]!)} |`);
  }
}

/** CPU seconds of one replay and its hit rate. */
function timed(requests: readonly TraceRequest[], capacityTokens: number, policy: () => ReturnType<ReturnType<typeof policyFactory>>): { rate: number; cpu: number } {
  const started = process.cpuUsage();
  const rate = replayTrace(requests, { policy: policy(), capacityTokens, blockSize: requests[0]!.blockSize }).hitRate;
  const used = process.cpuUsage(started);
  return { rate, cpu: (used.user + used.system) / 1e6 };
}

/** The model and the safety mechanism: gap closed at 1M and 4M, and CPU time against LRU's. */
async function model(): Promise<void> {
  const requests = (await readTrace(sharedTrace('mooncake_conversation_trace.jsonl'))).requests;
  const nextUse = computeNextUse(requests);
  const blockSize = requests[0]!.blockSize;
  const bounds = [M, 4 * M].map((capacityTokens) => ({
    capacityTokens,
    lru: replayTrace(requests, { policy: policyFactory('lru'), capacityTokens, blockSize }).hitRate,
    belady: replayTrace(requests, { policy: policyFactory('belady'), capacityTokens, blockSize, nextUse }).hitRate,
  }));
  timed(requests, M, () => new ReusePolicy({}, M / blockSize)); // warm-up (and TensorFlow.js loaded once)
  timed(requests, M, () => new ReusePolicy({ target: 'page', trainer: 'tfjs' }, M / blockSize));
  const lruCpu = Math.min(...[0, 1, 2].map(() => timed(requests, M, () => policyFactory('lru')({ gpuSlots: M / blockSize })).cpu));
  const variants: [string, Partial<ReuseOptions>][] = [
    ['default: one sample per request (conversation target), binned logistic, duel, horizon from reuse gaps', {}],
    ['no duel (learned order always)', { duel: false }],
    ['horizon capped where the cache would overflow (capacityShare 1)', { capacityShare: 1 }],
    ['horizon from turn gaps (0.9 quantile, lifetime 0.7x)', { horizonFrom: 'turn-gaps', gapQuantile: 0.9 }],
    ['fixed horizon 1000, lifetime 700', { horizonFrom: 'fixed' }],
    ['page target (session 5 default): sampled page references, 13 page features, logistic', { target: 'page' }],
    ['page target, no duel', { target: 'page', duel: false }],
    ['page target trained by TensorFlow.js', { target: 'page', trainer: 'tfjs' }],
    ['page target, MLP 16 hidden (TensorFlow.js), 16 steps of 256', { target: 'page', hidden: 16, trainer: 'tfjs', batchSize: 256, stepsPerFit: 16, learningRate: 0.02 }],
  ];
  console.log('\n| variant | hit rate 1M | gap closed 1M | hit rate 4M | gap closed 4M | CPU time at 1M vs lru |');
  console.log('|---|---|---|---|---|---|');
  for (const [name, options] of variants) {
    const cells = bounds.map(({ capacityTokens, lru, belady }) => {
      const run = timed(requests, capacityTokens, () => new ReusePolicy(options, capacityTokens / blockSize));
      return { text: `${pct(run.rate)} | ${closed(lru, run.rate, belady)}`, cpu: run.cpu };
    });
    console.log(`| ${name} | ${cells.map((c) => c.text).join(' | ')} | ${(cells[0]!.cpu / lruCpu).toFixed(1)}x |`);
  }
}

/** Mooncake on 8 H100-SXM replicas (Llama-3.1-8B, 512-token pages): sglang (LRU), reuse, belady. */
async function simulated(): Promise<void> {
  const requests = (await readTrace(sharedTrace('mooncake_conversation_trace.jsonl'))).requests;
  const hardware = resolveHardware({ gpu: 'H100-SXM', model: 'Llama-3.1-8B', overrides: { blockSize: 512 } });
  const variant = (name: string, options: Partial<ReuseOptions>, share = true) => ({
    ...setupByName('reuse'),
    name,
    policy: (context?: PolicyContext) => new ReusePolicy(options, context?.gpuSlots ?? Infinity, share ? context?.shared : undefined),
  });
  const variants = [
    setupByName('sglang'),
    setupByName('reuse'),
    variant('reuse, no duel', { duel: false }),
    variant('reuse, a learner per replica (session 5)', {}, false),
    variant('reuse, page target', { target: 'page' }),
    variant('reuse, page target, a learner per replica (session 5 default)', { target: 'page' }, false),
    setupByName('belady'),
  ];
  const { report } = simulate({ requests, setups: variants, hardware, serving: servingOptions({ replicas: 8 }, { hardware, workload: 'trace' }), workload: {} });
  console.log('\n| setup | e2e p50 | e2e p99 | TTFT p50 | TTFT p99 | GPU hit |');
  console.log('|---|---|---|---|---|---|');
  for (const r of report.results) {
    console.log(`| ${r.setup} | ${r.e2e.p50.toFixed(2)} s | ${r.e2e.p99.toFixed(2)} s | ${(1000 * r.ttft.p50).toFixed(1)} ms | ${(1000 * r.ttft.p99).toFixed(1)} ms | ${pct(r.gpuHitRate)}% |`);
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
  const pages = requests.reduce((s, r) => s + r.blocks.length, 0);
  const best = (name: PolicyName) => Math.min(...[0, 1, 2].map(() => timed(requests, M, () => policyFactory(name)({ gpuSlots: M / blockSize })).cpu));
  const lru = best('lru');
  const reuse = best('reuse');
  console.log(
    `throughput at 1M (CPU time, best of 3 warm runs): lru ${(pages / lru / 1e6).toFixed(2)}M page refs/s, reuse ${(pages / reuse / 1e6).toFixed(2)}M page refs/s (${(reuse / lru).toFixed(1)}x lru's CPU time); load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`,
  );
}

/**
 * What limits the gap at 4M. (1) Oracle labels: a page is kept ahead of the rest while its true next use is
 * within H requests of its last access (LRU within each class). (2) Noisy oracle: key = last access + L *
 * (mu * [reused again] + noise), one standard normal draw per request, since a model's errors are shared by
 * the pages of a conversation; its AUC is Phi(mu / sqrt 2). (3) The model's own AUC for "reused again", at
 * conversation level (each request's last full block) and per page, on the requests after the first quarter.
 */
async function limits(): Promise<void> {
  const requests = (await readTrace(sharedTrace('mooncake_conversation_trace.jsonl'))).requests;
  const nextUse = computeNextUse(requests);
  const blockSize = requests[0]!.blockSize;
  const bounds = (capacityTokens: number) => ({
    lru: replayTrace(requests, { policy: policyFactory('lru'), capacityTokens, blockSize }).hitRate,
    belady: replayTrace(requests, { policy: policyFactory('belady'), capacityTokens, blockSize, nextUse }).hitRate,
  });
  const at = { [M]: bounds(M), [4 * M]: bounds(4 * M) };
  const oracle = (horizon: number): EvictionPolicy => ({
    name: 'oracle',
    usesNextUse: true,
    priority: (page, pages) => (Number.isFinite(pages.nextUse(page)) && pages.nextUse(page) - pages.lastAccess(page) <= horizon ? 1 : 0),
  });
  console.log('\n| oracle label: next use within | gap closed 1M | gap closed 4M |');
  console.log('|---|---|---|');
  for (const horizon of [400, 800, 1600, 3200, Infinity]) {
    const cells = [M, 4 * M].map((capacityTokens) => {
      const rate = replayTrace(requests, { policy: oracle(horizon), capacityTokens, blockSize, nextUse }).hitRate;
      return closed(at[capacityTokens]!.lru, rate, at[capacityTokens]!.belady);
    });
    console.log(`| ${Number.isFinite(horizon) ? `${horizon} requests` : 'ever'} | ${cells.join(' | ')} |`);
  }
  const noisy = (mu: number, lifetime: number): EvictionPolicy => {
    let seed = 12345;
    const uniform = () => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return ((seed >>> 0) + 0.5) / 2 ** 32;
    };
    const draws = new Map<number, number>();
    const noise = (request: number) => {
      let z = draws.get(request);
      if (z === undefined) draws.set(request, (z = Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform())));
      return z;
    };
    return {
      name: 'noisy-oracle',
      usesNextUse: true,
      priority: (page, pages) => {
        const last = pages.lastAccess(page);
        return last + lifetime * (mu * (Number.isFinite(pages.nextUse(page)) ? 1 : 0) + noise(last));
      },
    };
  };
  console.log('\n| noisy oracle: AUC | gap closed 4M, L = 700 | L = 1500 |');
  console.log('|---|---|---|');
  for (const mu of [0.7, 1.0, 1.4]) {
    const cells = [700, 1500].map((lifetime) => closed(at[4 * M]!.lru, replayTrace(requests, { policy: noisy(mu, lifetime), capacityTokens: 4 * M, blockSize, nextUse }).hitRate, at[4 * M]!.belady));
    console.log(`| ${normalCdf(mu / Math.SQRT2).toFixed(2)} | ${cells.join(' | ')} |`);
  }
  // (3) The learners' AUC for "will this conversation come back" (each request's last full block reused again).
  const labelled = (r: number): { lastFull: number; label: number } => {
    const request = requests[r]!;
    const lastFull = request.inputLength % blockSize !== 0 ? request.blocks.length - 2 : request.blocks.length - 1;
    return { lastFull, label: lastFull >= 0 && Number.isFinite(nextUse.nextUse[nextUse.offsets[r]! + lastFull]!) ? 1 : 0 };
  };
  const rows = new Float32Array(requests.length * CONVERSATION_WIDTH);
  const labels = new Float32Array(requests.length);
  for (const target of ['conversation', 'page'] as const) {
    const learner = new ReuseLearner({ target }, (4 * M) / blockSize);
    const conversations: [number, number][] = [];
    for (let r = 0; r < requests.length; r++) {
      learner.observe(requests[r]!);
      const { lastFull, label } = labelled(r);
      if (target === 'conversation') rows.set(learner.turnRow, r * CONVERSATION_WIDTH);
      labels[r] = label;
      if (r >= requests.length / 4 && lastFull >= 1) conversations.push([learner.lives[lastFull]!, label]);
      learner.endRequest();
    }
    console.log(`\nthe ${target} target's AUC for "conversation comes back" (requests ${Math.ceil(requests.length / 4)}.., online): ${auc(conversations).toFixed(3)}`);
  }
  // (4) The conversation model fitted on the whole trace, labels included (it knows the future): its AUC and
  // its gap with the same key, and with keys that age by the turn gaps' survival (re-read every 16 requests).
  const fitted = new BinnedLogistic({ learningRate: 0.05, batchSize: 4096, stepsPerFit: 100, seed: 1 });
  for (let round = 0; round < 20; round++) fitted.fit(rows, labels, requests.length);
  const z = Float64Array.from({ length: requests.length }, (_, r) => fitted.logit(rows, r * CONVERSATION_WIDTH));
  const scored: [number, number][] = [];
  const gaps: number[] = [];
  for (let r = 0; r < requests.length; r++) {
    const { lastFull, label } = labelled(r);
    if (lastFull < 1) continue;
    scored.push([z[r]!, label]);
    if (label === 1) gaps.push(nextUse.nextUse[nextUse.offsets[r]! + lastFull]! - r);
  }
  gaps.sort((a, b) => a - b);
  const survival = (age: number) => {
    let lo = 0;
    let hi = gaps.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (gaps[mid]! <= age) lo = mid + 1;
      else hi = mid;
    }
    return (gaps.length - lo + 0.5) / (gaps.length + 1);
  };
  console.log(`\nconversation model fitted in-sample on every request: AUC ${auc(scored).toFixed(3)}`);
  console.log('\n| in-sample conversation model | gap closed 1M | gap closed 4M |');
  console.log('|---|---|---|');
  for (const lifetime of [300, 600, 1200]) {
    const cells = [M, 4 * M].map((capacityTokens) => closed(at[capacityTokens]!.lru, replayTrace(requests, { policy: fittedKeys(z, lifetime), capacityTokens, blockSize }).hitRate, at[capacityTokens]!.belady));
    console.log(`| key last + ${lifetime} * logit | ${cells.join(' | ')} |`);
  }
  const aged = [M, 4 * M].map((capacityTokens) => closed(at[capacityTokens]!.lru, replayTrace(requests, { policy: agedKeys(z, survival), capacityTokens, blockSize }).hitRate, at[capacityTokens]!.belady));
  console.log(`| P(back \\| not back yet at this age), re-read every 16 requests | ${aged.join(' | ')} |`);
}

/** Per-request logits as keys: `r + lifetime * z[r]` for a request's full blocks; its partial last block goes first. */
function fittedKeys(z: Float64Array, lifetime: number): EvictionPolicy {
  const key = new Map<number, number>();
  let r = 0;
  return {
    name: 'fitted',
    priority: (page) => key.get(page) ?? r,
    forget: (page) => void key.delete(page),
    afterRequest(access) {
      const partial = access.inputLength % access.blockSize !== 0;
      for (let i = 0; i < access.held; i++) key.set(access.pages[i]!, partial && i === access.blocks.length - 1 ? -Infinity : r + lifetime * z[r]!);
      r++;
    },
  };
}

/** Posterior P(the conversation comes back | not yet, at this age): p S(age) / (p S(age) + 1 - p), re-read every 16 requests. */
function agedKeys(z: Float64Array, survival: (age: number) => number): EvictionPolicy {
  const last = new Map<number, number>();
  const logit = new Map<number, number>();
  let r = 0;
  let owner: PriorityOwner | undefined;
  const score = (page: number) => {
    const p = 1 / (1 + Math.exp(-(logit.get(page) ?? 0)));
    const s = survival(r - (last.get(page) ?? r));
    return (p * s) / (p * s + 1 - p);
  };
  return {
    name: 'aged',
    bind: (cache) => void (owner = cache),
    priority: score,
    forget(page) {
      last.delete(page);
      logit.delete(page);
    },
    afterRequest(access) {
      const partial = access.inputLength % access.blockSize !== 0;
      for (let i = 0; i < access.held; i++) {
        last.set(access.pages[i]!, r);
        logit.set(access.pages[i]!, partial && i === access.blocks.length - 1 ? -40 : z[r]!);
      }
      r++;
      if (r % 16 === 0 && owner) for (const page of last.keys()) owner.reprioritize(page);
    },
  };
}

/** Standard normal CDF (Abramowitz-Stegun 7.1.26 erf, error below 1.5e-7). */
function normalCdf(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * z);
  const erf = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-z * z);
  return 0.5 * (1 + (x >= 0 ? erf : -erf));
}

function label(tokens: number): string {
  return tokens >= M ? `${tokens / M}M` : `${tokens / k}k`;
}
function sign(x: number): string {
  return `${x >= 0 ? '+' : ''}${(100 * x).toFixed(2)}`;
}

const parts: Record<string, () => Promise<void>> = { tables, curve, ablation, model, limits, oracles, checks, simulate: simulated };
const only = process.argv.slice(2);
for (const [name, part] of Object.entries(parts)) if (only.length === 0 || only.includes(name)) await part();

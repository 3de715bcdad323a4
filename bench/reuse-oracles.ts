/**
 * Where the `reuse` policy's missing 4M gap is (part `oracles` of reuse-eval.ts): the online model's own
 * keys, replayed in the real cache, with one piece of it replaced at a time by the truth from the trace's
 * future. Not a policy anyone can run: it measures which knowledge would close the gap.
 *
 * The online model's output does not depend on the cache (its history of prefixes is its own), so one pass
 * of the learner gives every request's logit and lifetime, and each variant below is a replay with keys
 * `request + lifetime * score` (smallest first out), the key `reuse` gives without its duel.
 */
import { computeNextUse, type NextUseIndex } from '../src/cache/next-use.js';
import { policyFactory } from '../src/cache/policy-registry.js';
import { ReuseLearner } from '../src/cache/reuse/reuse-learner.js';
import type { EvictionPolicy, PolicyFactory, RequestAccess } from '../src/cache/policy.js';
import { replayTrace } from '../src/replay/replay.js';
import type { TraceRequest } from '../src/types.js';
import { readTrace } from '../src/workload/trace.js';
import { sharedTrace } from './paths.js';

const M = 2 ** 20;
const CAPACITIES = [M, 4 * M];
/** Logit given to a request whose class an oracle reveals (P = 0.95 or 0.05). */
const REVEALED = 3;

/** What the online learner said about each request, and what the trace's future says. */
interface RequestView {
  /** Extra life of the full blocks, of the partial last block, and the lifetime (life per unit of logit). */
  life: Float64Array;
  partialLife: Float64Array;
  lifetime: Float64Array;
  /** The model's logit for "this conversation comes back". */
  z: Float64Array;
  /** Index of the last full block (-1: none). */
  lastFull: Int32Array;
  /** Turns before this one (from the learner's row, capped at 8). */
  turn: Int32Array;
  /** The request that next uses the last full block (Infinity: none). */
  next: Float64Array;
}

function viewOf(requests: readonly TraceRequest[], nextUse: NextUseIndex): RequestView {
  const n = requests.length;
  const view: RequestView = {
    life: new Float64Array(n),
    partialLife: new Float64Array(n),
    lifetime: new Float64Array(n),
    z: new Float64Array(n),
    lastFull: new Int32Array(n),
    turn: new Int32Array(n),
    next: new Float64Array(n),
  };
  const learner = new ReuseLearner({});
  const unitLogit = 1 / (1 + Math.exp(-1));
  for (let r = 0; r < n; r++) {
    const request = requests[r]!;
    const blocks = request.blocks.length;
    learner.observe(request);
    const lastFull = request.inputLength % request.blockSize !== 0 ? blocks - 2 : blocks - 1;
    view.life[r] = learner.lives[0]!;
    view.partialLife[r] = learner.lives[blocks - 1]!;
    view.lifetime[r] = learner.lifeOf(unitLogit);
    view.z[r] = view.lifetime[r]! > 0 ? view.life[r]! / view.lifetime[r]! : 0;
    view.lastFull[r] = lastFull;
    view.turn[r] = Math.max(0, learner.turnRow[0]!);
    view.next[r] = lastFull >= 1 ? nextUse.nextUse[nextUse.offsets[r]! + lastFull]! : Infinity;
    learner.endRequest();
  }
  return view;
}

/** A policy whose key for request r's page at position i is `key(r, i)`, set when the request is told. */
function keyed(key: (r: number, i: number) => number): EvictionPolicy {
  const keys = new Map<number, number>();
  let r = 0;
  return {
    name: 'keyed',
    priority: (page) => keys.get(page) ?? r,
    forget: (page) => void keys.delete(page),
    afterRequest(access: RequestAccess) {
      for (let i = 0; i < access.held; i++) keys.set(access.pages[i]!, key(r, i));
      r++;
    },
  };
}

export async function oracles(): Promise<void> {
  const requests = (await readTrace(sharedTrace('mooncake_conversation_trace.jsonl'))).requests;
  const nextUse = computeNextUse(requests);
  const blockSize = requests[0]!.blockSize;
  const view = viewOf(requests, nextUse);
  const matchedBy = (policy: EvictionPolicy | PolicyFactory, capacityTokens: number) => {
    const matched = new Int32Array(requests.length);
    const probe = { afterRequest: (_q: unknown, r: number, _p: unknown, _h: number, m: number) => void (matched[r] = m), onEvict() {} };
    const rate = replayTrace(requests, { policy, capacityTokens, blockSize, nextUse, probe }).hitRate;
    return { rate, matched };
  };
  const bounds = new Map(CAPACITIES.map((c) => [c, { lru: matchedBy(policyFactory('lru'), c), belady: matchedBy(policyFactory('belady'), c) }]));
  const closedBy = (policy: () => EvictionPolicy) =>
    CAPACITIES.map((capacityTokens) => {
      const { lru, belady } = bounds.get(capacityTokens)!;
      const rate = replayTrace(requests, { policy: policy(), capacityTokens, blockSize, nextUse }).hitRate;
      return `${((100 * (rate - lru.rate)) / (belady.rate - lru.rate)).toFixed(1)}%`;
    });
  const partial = (r: number, i: number) => i > view.lastFull[r]!;
  const modelKey = (r: number, i: number) => r + (partial(r, i) ? view.partialLife[r]! : view.life[r]!);
  const pageNext = (r: number, i: number) => nextUse.nextUse[nextUse.offsets[r]! + i]!;
  const back = (r: number) => Number.isFinite(view.next[r]!);
  let gapSum = 0;
  let backCount = 0;
  for (let r = 0; r < requests.length; r++) if (back(r)) (gapSum += view.next[r]! - r, backCount++);
  const meanGap = gapSum / backCount;
  const FAR = 1e9;

  console.log('\n| keys (one piece of the truth at a time) | gap closed 1M | gap closed 4M |');
  console.log('|---|---|---|');
  const rows: [string, (r: number, i: number) => number][] = [
    ["the online model's keys (= `reuse` without the duel)", modelKey],
    ['truth: comes back or not (each page), LRU inside each class', (r, i) => (Number.isFinite(pageNext(r, i)) ? FAR + r : r)],
    ["truth: comes back or not, the model's order inside each class", (r, i) => (Number.isFinite(pageNext(r, i)) ? FAR + modelKey(r, i) : modelKey(r, i))],
    ['truth: next use within 400 / 1600 / later / never, LRU inside', (r, i) => {
      const gap = pageNext(r, i) - r;
      return r + (gap < 400 ? 3 * FAR : gap < 1600 ? 2 * FAR : Number.isFinite(gap) ? FAR : 0);
    }],
  ];
  for (const s of [0.25, 1]) {
    rows.push([`model's class, true gap for pages that come back: key - ${s} * (gap - mean gap)`, (r, i) => {
      const next = pageNext(r, i);
      return modelKey(r, i) - (Number.isFinite(next) ? s * (next - r - meanGap) : 0);
    }]);
  }
  for (const [name, key] of rows) console.log(`| ${name} | ${closedBy(() => keyed(key)).join(' | ')} |`);

  // How well the model ranks "comes back" inside each turn class (requests after the first quarter, before the
  // last tenth, whose conversations the trace's end cuts off).
  const classes: [string, (r: number) => boolean][] = [
    ['every request', () => true],
    ['first turns', (r) => view.turn[r] === 0],
    ['second and third turns', (r) => view.turn[r]! >= 1 && view.turn[r]! <= 2],
    ['later turns', (r) => view.turn[r]! >= 3],
  ];
  const aucs = classes.map(([name, inClass]) => {
    const pairs: [number, number][] = [];
    for (let r = Math.ceil(requests.length / 4); r < 0.9 * requests.length; r++) if (inClass(r) && view.lastFull[r]! >= 1) pairs.push([view.z[r]!, back(r) ? 1 : 0]);
    return `${name} ${auc(pairs).toFixed(3)}`;
  });
  console.log(`\nthe online model's AUC for "comes back", by turn: ${aucs.join(', ')}`);
  console.log(`\n| the model, with the true class (logit +-${REVEALED}) for | requests | gap closed 1M | gap closed 4M |`);
  console.log('|---|---|---|---|');
  const gapOf = (r: number) => view.next[r]! - r;
  const groups: [string, (r: number) => boolean][] = [
    ['first turns', (r) => view.turn[r] === 0],
    ['second and third turns', (r) => view.turn[r]! >= 1 && view.turn[r]! <= 2],
    ['later turns', (r) => view.turn[r]! >= 3],
    ['requests that never come back', (r) => !back(r)],
    ['requests that come back', back],
    ['come back within 400 requests', (r) => back(r) && gapOf(r) < 400],
    ['come back after 400-1600', (r) => back(r) && gapOf(r) >= 400 && gapOf(r) < 1600],
    ['come back after 1600 or more', (r) => back(r) && gapOf(r) >= 1600],
    ['never back, model logit <= 0', (r) => !back(r) && view.z[r]! <= 0],
    ['never back, model logit > 0 (false alarms)', (r) => !back(r) && view.z[r]! > 0],
    ['back, model logit <= 0 (misses)', (r) => back(r) && view.z[r]! <= 0],
    ['back, model logit > 0', (r) => back(r) && view.z[r]! > 0],
  ];
  for (const [name, inGroup] of groups) {
    let count = 0;
    for (let r = 0; r < requests.length; r++) if (inGroup(r)) count++;
    const key = (r: number, i: number) => (inGroup(r) && !partial(r, i) ? r + view.lifetime[r]! * (back(r) ? REVEALED : -REVEALED) : modelKey(r, i));
    console.log(`| ${name} | ${count} | ${closedBy(() => keyed(key)).join(' | ')} |`);
  }

  // How good a first-turn model would have to be: first turns' logits moved toward their labels by d (the
  // rest unchanged), which raises their AUC without touching any other request.
  const firstAuc = (z: (r: number) => number) => {
    const pairs: [number, number][] = [];
    for (let r = Math.ceil(requests.length / 4); r < 0.9 * requests.length; r++) if (view.turn[r] === 0 && view.lastFull[r]! >= 1) pairs.push([z(r), back(r) ? 1 : 0]);
    return auc(pairs).toFixed(3);
  };
  console.log('\n| first turns\' logits + d * (label - 0.25) | their AUC | gap closed 1M | gap closed 4M |');
  console.log('|---|---|---|---|');
  for (const d of [0, 0.25, 0.5]) {
    const z = (r: number) => view.z[r]! + (view.turn[r] === 0 ? d * ((back(r) ? 1 : 0) - 0.25) : 0);
    const key = (r: number, i: number) => (partial(r, i) ? modelKey(r, i) : r + view.lifetime[r]! * z(r));
    console.log(`| d = ${d} | ${firstAuc(z)} | ${closedBy(() => keyed(key)).join(' | ')} |`);
  }

  // Belady's extra hits at 4M: pages matched by each continuation, by its gap and by the turn it continues.
  const parent = new Int32Array(requests.length).fill(-1);
  for (let r = 0; r < requests.length; r++) if (back(r)) parent[view.next[r]!] = r;
  const model = matchedBy(keyed(modelKey), 4 * M).matched;
  const { lru, belady } = bounds.get(4 * M)!;
  const table = (title: string, classOf: (q: number) => string, order: string[]) => {
    const sums = new Map(order.map((c) => [c, [0, 0, 0, 0]]));
    for (let q = 0; q < requests.length; q++) {
      const s = sums.get(classOf(q))!;
      s[0]!++;
      s[1]! += lru.matched[q]!;
      s[2]! += model[q]!;
      s[3]! += belady.matched[q]!;
    }
    console.log(`\n| 4M, ${title} | requests | pages matched: lru | the model's keys | belady |`);
    console.log('|---|---|---|---|---|');
    for (const [c, s] of sums) console.log(`| ${c} | ${s.join(' | ')} |`);
  };
  const gapClass = (q: number) => {
    if (parent[q]! < 0) return 'no earlier turn (first turns; block 0 and shared templates)';
    const gap = q - parent[q]!;
    return gap < 400 ? 'continues after < 400 requests' : gap < 1600 ? 'after 400-1600' : 'after 1600 or more';
  };
  table('by the continuation gap', gapClass, ['no earlier turn (first turns; block 0 and shared templates)', 'continues after < 400 requests', 'after 400-1600', 'after 1600 or more']);
  const turnClass = (q: number) => (parent[q]! < 0 ? 'no earlier turn' : view.turn[parent[q]!] === 0 ? 'continues a first turn' : 'continues a later turn');
  table('by the turn continued', turnClass, ['no earlier turn', 'continues a first turn', 'continues a later turn']);
}

/** Area under the ROC curve of (score, label) pairs, ties counted half. */
export function auc(pairs: [number, number][]): number {
  const sorted = [...pairs].sort((a, b) => a[0] - b[0]);
  let positives = 0;
  let rankSum = 0;
  for (let k = 0; k < sorted.length; ) {
    let j = k;
    while (j < sorted.length && sorted[j]![0] === sorted[k]![0]) j++;
    const rank = (k + 1 + j) / 2;
    for (let m = k; m < j; m++) if (sorted[m]![1] === 1) (positives++, (rankSum += rank));
    k = j;
  }
  const negatives = sorted.length - positives;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

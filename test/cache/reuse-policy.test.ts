import { describe, expect, it } from 'vitest';
import { policyFactory } from '../../src/cache/policy-registry.js';
import { CacheReplayer, replayTrace } from '../../src/replay/replay.js';
import { ReusePolicy } from '../../src/cache/reuse/reuse-policy.js';
import type { TraceRequest } from '../../src/types.js';
import { requireTrace } from '../helpers/requirements.js';
import { readTraceHead } from '../helpers/trace-head.js';

const MOONCAKE = requireTrace('mooncake_conversation_trace.jsonl');
const CAPACITY = 2 ** 20;
const PREFIX = 1500;
const LENGTH = 2500;

/** Hits of every request and the cache's contents after request `checkpoint - 1`. */
function decisions(requests: readonly TraceRequest[], checkpoint: number): { hits: number[]; contents: string[]; fits: number } {
  const replayer = new CacheReplayer(requests, { policy: policyFactory('reuse'), capacityTokens: CAPACITY, blockSize: 512 });
  const hits: number[] = [];
  let contents: string[] = [];
  for (let r = 0; r < requests.length; r++) {
    hits.push(replayer.run(r));
    if (r === checkpoint - 1) contents = [...replayer.cache.pageIds()].map((p) => replayer.cache.pathOf(p).join(',')).sort();
  }
  return { hits, contents, fits: (replayer.cache.policy as ReusePolicy).fits };
}

/** A deterministic shuffle (xorshift), so a failure repeats. */
function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    const j = (s >>> 0) % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

describe.skipIf(!MOONCAKE)('reuse policy', async () => {
  const requests = MOONCAKE ? await readTraceHead(MOONCAKE, LENGTH) : [];

  it('is causal: shuffling or rewriting the requests after r never changes a decision before r', () => {
    const original = decisions(requests, PREFIX);
    expect(original.fits).toBeGreaterThan(0); // the model trained before the checkpoint, so this tests something
    const tail = requests.slice(PREFIX);
    const variants = [
      [...requests.slice(0, PREFIX), ...shuffled(tail, 7)],
      [...requests.slice(0, PREFIX), ...tail.map((request) => ({ ...request, blocks: request.blocks.map((b) => b + 1e9) }))],
      requests.slice(0, PREFIX),
    ];
    for (const variant of variants) {
      const changed = decisions(variant, PREFIX);
      expect(changed.hits.slice(0, PREFIX)).toEqual(original.hits.slice(0, PREFIX));
      expect(changed.contents).toEqual(original.contents);
    }
  });

  it('is deterministic: the same trace gives byte-identical results', () => {
    const run = () => JSON.stringify({ ...replayTrace(requests, { policy: policyFactory('reuse'), capacityTokens: CAPACITY, blockSize: 512 }), seconds: 0 });
    expect(run()).toBe(run());
  });

  it('is exactly lru before its first training round', () => {
    const short = requests.slice(0, 200);
    const options = { capacityTokens: 2 ** 18, blockSize: 512 };
    const lru = replayTrace(short, { ...options, policy: policyFactory('lru') });
    const reuse = replayTrace(short, { ...options, policy: policyFactory('reuse') });
    expect({ ...reuse, seconds: 0, policy: 'lru' }).toEqual({ ...lru, seconds: 0 });
  });

  it('is never below lru: the duel against an LRU shadow holds it there at every size', () => {
    for (const capacityTokens of [2 ** 17, 2 ** 18, 2 ** 20, 2 ** 22]) {
      const options = { capacityTokens, blockSize: 512 };
      const lru = replayTrace(requests, { ...options, policy: policyFactory('lru') }).hitTokens;
      const reuse = replayTrace(requests, { ...options, policy: policyFactory('reuse') }).hitTokens;
      expect(reuse, `${capacityTokens} tokens`).toBeGreaterThanOrEqual(lru);
    }
  });

  it('counts the requests run under each order; without the duel the results differ', () => {
    const options = { capacityTokens: CAPACITY, blockSize: 512 };
    const policy = new ReusePolicy({}, CAPACITY / 512);
    const dueled = replayTrace(requests, { ...options, policy }).hitTokens;
    expect(policy.decisions.learned).toBeGreaterThan(0);
    expect(policy.decisions.lru + policy.decisions.learned).toBe(requests.length);
    const alone = replayTrace(requests, { ...options, policy: new ReusePolicy({ duel: false }) }).hitTokens;
    expect(alone).not.toBe(dueled);
  });

  it('takes its horizon from the reuse gaps seen, capped where a small cache would overflow, or keeps a fixed one', () => {
    const horizon = (options: ConstructorParameters<typeof ReusePolicy>[0], capacityTokens: number) => {
      const policy = new ReusePolicy({ duel: false, ...options }, capacityTokens / 512);
      replayTrace(requests, { capacityTokens, blockSize: 512, policy });
      return policy.horizon;
    };
    const free = horizon({}, 2 ** 18);
    expect(free).toBeGreaterThan(100);
    expect(horizon({ capacityShare: 1 }, 2 ** 18)).toBeLessThan(free);
    expect(horizon({ horizonFrom: 'fixed' }, 2 ** 18)).toBe(1000);
  });

  it('rejects an unknown feature name in an ablation', () => {
    expect(() => new ReusePolicy({ without: ['no_such_feature'] })).toThrow(/unknown reuse feature/);
  });
});

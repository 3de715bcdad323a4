/**
 * `ste-learned` where its forecast wins: agents called in a cycle that LRU thrashes (each agent's prompt is
 * evicted just before the agent runs again), with agent tags given, so the duel follows the forecast. Exact
 * hits and decisions per setup pin the policy's bookkeeping: which pages it tags, forgets and re-reads.
 */
import { describe, expect, it } from 'vitest';
import type { EvictionPolicy } from '../../src/cache/policy.js';
import { policyFactory } from '../../src/cache/policy-registry.js';
import { LearnedStePolicy } from '../../src/cache/learned-ste/learned-ste-policy.js';
import { replayTrace, type ReplayProbe } from '../../src/replay/replay.js';
import type { TraceRequest } from '../../src/types.js';

const BLOCK = 16;

/** `rounds` cycles of `agents` agents in `sessions` sessions; each prompt is its agent's `length` blocks plus one block of its own. */
function cycle(agents: number, length: number, sessions: number, rounds = 12): TraceRequest[] {
  const requests: TraceRequest[] = [];
  for (let round = 0; round < rounds; round++) {
    for (let a = 0; a < agents; a++) {
      for (let s = 0; s < sessions; s++) {
        const n = requests.length;
        const blocks = [...Array.from({ length }, (_, i) => 1000 * (a + 1) + i), 900_000 + n];
        requests.push({ id: `r${n}`, t: n, workflow: `w${s}`, agent: `a${a}`, blocks, blockSize: BLOCK, inputLength: blocks.length * BLOCK, outputLength: 1 });
      }
    }
  }
  return requests;
}

/** Replays `requests` under ste-learned at `slots` pages: hit tokens, evictions, requests that followed the forecast, and the policy's counts. */
function run(requests: TraceRequest[], slots: number) {
  let made: LearnedStePolicy | undefined;
  let followed = 0;
  const probe: ReplayProbe = { afterRequest: () => void (followed += made!.followsForecast ? 1 : 0), onEvict: () => {} };
  const create = policyFactory('ste-learned');
  const result = replayTrace(requests, {
    policy: (context) => (made = create(context) as LearnedStePolicy) as EvictionPolicy,
    capacityTokens: slots * BLOCK,
    blockSize: BLOCK,
    probe,
  });
  const lru = replayTrace(requests, { policy: policyFactory('lru'), capacityTokens: slots * BLOCK, blockSize: BLOCK });
  return { hit: result.hitTokens, evictions: result.evictions, lru: lru.hitTokens, followed, decisions: made!.decisions };
}

describe('ste-learned on a cycle LRU thrashes', () => {
  // [agents, blocks per prompt, sessions, slots] -> hit tokens, evictions, LRU's hit tokens, requests that
  // followed the forecast: recorded from this implementation, and checked for sense (the forecast is followed
  // for most requests and hits more than LRU in every setup).
  const cases: [number, number, number, number, { hit: number; evictions: number; lru: number; followed: number }][] = [
    [3, 4, 1, 10, { hit: 960, evictions: 110, lru: 0, followed: 31 }],
    [3, 4, 1, 11, { hit: 1248, evictions: 91, lru: 528, followed: 31 }],
    [3, 4, 2, 10, { hit: 3472, evictions: 133, lru: 2304, followed: 61 }],
    [3, 8, 2, 21, { hit: 7616, evictions: 151, lru: 5136, followed: 65 }],
    [4, 4, 2, 15, { hit: 5232, evictions: 138, lru: 3072, followed: 85 }],
  ];
  for (const [agents, length, sessions, slots, expected] of cases) {
    it(`${agents} agents x ${length} blocks, ${sessions} session(s), ${slots} slots: follows the forecast and beats LRU`, () => {
      const { decisions, ...got } = run(cycle(agents, length, sessions), slots);
      expect(got).toEqual(expected);
      expect(got.hit).toBeGreaterThan(got.lru);
      // Every request is counted under the order it ran with.
      expect(decisions).toEqual({ lru: agents * sessions * 12 - got.followed, forecast: got.followed });
    });
  }
});

/** A small deterministic generator (LCG), so the traffic below needs no fixture. */
function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

/**
 * Random agent traffic: 2-5 agents with prompts of 1-6 blocks, 1-4 sessions interleaved at random, each
 * mostly stepping through the agents in order (a fifth of calls jump), a session restarting under a new name
 * after some laps (so many (session, agent) callers are seen once and their forecast comes from the learned
 * graph), and a cache of half to one and a half times the agents' prompts.
 */
function randomTraffic(seed: number): { requests: TraceRequest[]; slots: number } {
  const random = lcg(seed);
  const agents = 2 + Math.floor(random() * 4);
  const lengths = Array.from({ length: agents }, () => 1 + Math.floor(random() * 6));
  const sessions = 1 + Math.floor(random() * 4);
  const next = Array.from({ length: sessions }, () => 0);
  const lap = Array.from({ length: sessions }, () => 0);
  const count = 20 + Math.floor(random() * 40);
  const requests: TraceRequest[] = [];
  for (let n = 0; n < count; n++) {
    const s = Math.floor(random() * sessions);
    const a = random() < 0.2 ? Math.floor(random() * agents) : next[s]!;
    next[s] = (a + 1) % agents;
    if (next[s] === 0 && random() < 0.5) lap[s]!++;
    const blocks = [...Array.from({ length: lengths[a]! }, (_, i) => 1000 * (a + 1) + i), 900_000 + n];
    requests.push({ id: `r${n}`, t: n, workflow: `w${s}-${lap[s]}`, agent: `a${a}`, blocks, blockSize: BLOCK, inputLength: blocks.length * BLOCK, outputLength: 1 });
  }
  const total = lengths.reduce((sum, length) => sum + length, 0);
  return { requests, slots: Math.max(2, Math.floor(total * (0.5 + random()))) };
}

describe('ste-learned on random agent traffic', () => {
  // Hit tokens and evictions per seed, recorded from this implementation: a change to what the policy or its
  // forecast shadow tags, forgets or ends (for example the shadow never ending a call, seeds 8 and 34) moves them.
  const expected = '1: 384 39;2: 1216 87;3: 2624 31;4: 384 56;5: 2592 52;6: 944 145;7: 1504 21;8: 656 76;9: 432 58;10: 304 59;11: 496 132;12: 1088 35;13: 1248 20;14: 272 171;15: 960 62;16: 1520 19;17: 1088 166;18: 1456 53;19: 496 36;20: 1712 49;21: 480 38;22: 1296 20;23: 1536 115;24: 1280 36;25: 1328 34;26: 1024 171;27: 1920 36;28: 800 77;29: 4032 45;30: 2432 34;31: 144 31;32: 1184 111;33: 496 71;34: 448 32;35: 1968 108;36: 1568 44;37: 736 35;38: 1056 34;39: 656 155;40: 1120 88';

  it('gives the recorded hits and evictions for seeds 1-40', () => {
    const got: string[] = [];
    for (let seed = 1; seed <= 40; seed++) {
      const { requests, slots } = randomTraffic(seed);
      const result = replayTrace(requests, { policy: policyFactory('ste-learned'), capacityTokens: slots * BLOCK, blockSize: BLOCK });
      got.push(`${seed}: ${result.hitTokens} ${result.evictions}`);
    }
    expect(got.join(';')).toBe(expected);
  });
});

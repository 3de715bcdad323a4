/**
 * A policy that learns from traffic has one pair of request hooks (`beforeRequest`, `afterRequest`), and
 * every driver calls them the same way: replay, a simulated replica and the gateway's shadow trees.
 */
import { describe, expect, it } from 'vitest';
import type { EvictionPolicy, RequestAccess, RequestInfo } from '../../src/cache/policy.js';
import { replayTrace } from '../../src/replay/replay.js';
import { ShadowCache } from '../../src/serve/gateway/shadow-cache.js';
import { runSimulation } from '../../src/sim/simulation.js';
import { policySetup } from '../../src/sim/setups.js';
import type { TraceRequest } from '../../src/types.js';
import { engineOf, hardwareOf } from '../helpers/sim.js';

const BLOCK = 16;

type Seen = { hook: 'before'; agent: string | undefined; blocks: number[]; tick: number } | { hook: 'after'; agent: string | undefined; tick: number; matched: number; held: number; pages: number[] };

/** LRU that writes down every request hook call. */
class HookRecorder implements EvictionPolicy {
  readonly name = 'hook-recorder';
  readonly seen: Seen[] = [];
  priority(): number {
    return 0;
  }
  beforeRequest(request: RequestInfo, tick: number): void {
    this.seen.push({ hook: 'before', agent: request.agent, blocks: Array.from(request.blocks), tick });
  }
  afterRequest(access: RequestAccess): void {
    const { request, tick, matched, held, pages } = access;
    this.seen.push({ hook: 'after', agent: request.agent, tick, matched, held, pages: Array.from(pages).slice(0, held) });
  }
}

function request(id: string, agent: string, blocks: number[], t: number): TraceRequest {
  return { id, t, agent, workflow: 'w', blocks, blockSize: BLOCK, inputLength: blocks.length * BLOCK, outputLength: 1 };
}

const REQUESTS = [request('r0', 'a', [1, 2, 3], 0), request('r1', 'b', [1, 2, 4], 10), request('r2', 'a', [1, 2, 3], 20)];

describe('request hooks', () => {
  it('replay calls before then after for each request in order, with the match and the held pages', () => {
    const policy = new HookRecorder();
    replayTrace(REQUESTS, { capacityTokens: 100 * BLOCK, blockSize: BLOCK, policy });
    expect(policy.seen.map((s) => `${s.hook}:${s.agent}:${s.tick}`)).toEqual(['before:a:0', 'after:a:0', 'before:b:1', 'after:b:1', 'before:a:2', 'after:a:2']);
    const after = policy.seen.filter((s) => s.hook === 'after');
    expect(after.map((s) => [s.matched, s.held])).toEqual([[0, 3], [2, 3], [3, 3]]);
    // r1 shares r0's first two pages; r2 holds exactly r0's pages again.
    expect(after[1]!.pages.slice(0, 2)).toEqual(after[0]!.pages.slice(0, 2));
    expect(after[2]!.pages).toEqual(after[0]!.pages);
  });

  it('a simulated replica calls before on arrival and after on completion, once per request', () => {
    const policy = new HookRecorder();
    const hardware = hardwareOf({ blockSize: BLOCK });
    runSimulation(REQUESTS, { setup: policySetup('recorded', () => policy), engine: engineOf(hardware, { gpuSlots: 4096, cpuSlots: 0 }), replicas: 1, router: 'round-robin', timeScale: 1 });
    // Arrivals are 10 s apart: each request completes before the next arrives.
    expect(policy.seen.map((s) => `${s.hook}:${s.agent}`)).toEqual(['before:a', 'after:a', 'before:b', 'after:b', 'before:a', 'after:a']);
    expect(policy.seen.filter((s) => s.hook === 'before').map((s) => s.blocks)).toEqual(REQUESTS.map((r) => r.blocks));
    expect(policy.seen.filter((s) => s.hook === 'after').map((s) => s.held)).toEqual([3, 3, 3]);
    expect(policy.seen.filter((s) => s.hook === 'after').map((s) => s.matched)).toEqual([0, 2, 3]);
  });

  it("the gateway's shadow tree calls both per admitted prompt, with the agent key and lengths in blocks", () => {
    const policy = new HookRecorder();
    const shadow = new ShadowCache({ slots: 100, policy, blockSize: BLOCK });
    shadow.admit([1, 2, 3], 2, 'w/a').release();
    shadow.admit([1, 2, 4], 2, 'w/b').release();
    expect(policy.seen.map((s) => `${s.hook}:${s.agent}:${s.tick}`)).toEqual(['before:w/a:1', 'after:w/a:1', 'before:w/b:2', 'after:w/b:2']);
    expect(policy.seen.filter((s) => s.hook === 'after').map((s) => [s.matched, s.held])).toEqual([[0, 3], [2, 3]]);
  });
});

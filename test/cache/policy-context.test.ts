/**
 * Every driver tells a policy factory the size of the cache its policy will order: `ste-learned` sizes its
 * shadow caches from it, and with no size its shadows never evict and it is LRU whatever the traffic.
 */
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { LruPolicy, type PolicyContext, type PolicyFactory } from '../../src/cache/policy.js';
import { policyFactory } from '../../src/cache/policy-registry.js';
import { AgentAnnotator } from '../../src/graph/learner.js';
import { replayTrace } from '../../src/replay/replay.js';
import { replayStream } from '../../src/replay/replay-stream.js';
import { replaySuite } from '../../src/replay/replay-suite.js';
import { runSimulation } from '../../src/sim/simulation.js';
import { policySetup } from '../../src/sim/setups.js';
import type { TraceRequest } from '../../src/types.js';
import { generateRequests } from '../../src/workload/generate.js';
import { retimeSessions } from '../../src/workload/sessions-start.js';
import { parseWorkflowSpec } from '../../src/workload/spec.js';
import { engineOf, hardwareOf } from '../helpers/sim.js';

const BLOCK = 16;

/** A factory that records the context each policy was made with. */
function recording(): { seen: (number | undefined)[]; create: PolicyFactory } {
  const seen: (number | undefined)[] = [];
  return { seen, create: (context?: PolicyContext) => (seen.push(context?.gpuSlots), new LruPolicy()) };
}

/** Branch-loop sessions started together with agent tags stripped: ste-learned beats LRU at 8k tokens. */
async function branchLoop(): Promise<TraceRequest[]> {
  const spec = parseWorkflowSpec(JSON.parse(await readFile(new URL('../../workloads/branch-loop.json', import.meta.url), 'utf8')), 'branch-loop.json');
  const stripped = generateRequests(spec, { seed: 1 }).map(({ agent: _a, fixedBlocks: _f, ...rest }) => rest);
  return new AgentAnnotator().annotateAll(retimeSessions(stripped, { kind: 'together' }));
}

async function* streamOf(requests: readonly TraceRequest[]): AsyncGenerator<TraceRequest> {
  yield* requests;
}

describe('policy factories get the cache size', () => {
  it('from replaySuite and replayStream, per capacity (unbounded: Infinity)', async () => {
    const requests = await branchLoop();
    const suite = recording();
    replaySuite({ path: 'b', format: 'kvflow', requests, skipped: 0 }, { policies: [suite.create], capacities: [8 * 1024, null] });
    expect(suite.seen).toEqual([8 * 1024 / BLOCK, Infinity]);
    const stream = recording();
    await replayStream('b', streamOf(requests), { policies: [stream.create], capacities: [8 * 1024, null] });
    expect(stream.seen.slice(-2)).toEqual([8 * 1024 / BLOCK, Infinity]);
  });

  it('from the simulator, per replica', async () => {
    const requests = (await branchLoop()).slice(0, 20);
    const made = recording();
    const hardware = hardwareOf({ blockSize: BLOCK });
    runSimulation(requests, { setup: policySetup('recorded', made.create), engine: engineOf(hardware, { gpuSlots: 4096, cpuSlots: 0 }), replicas: 2, router: 'round-robin', timeScale: 1 });
    expect(made.seen).toEqual([4096, 4096]);
  });

  it('so ste-learned in replaySuite replays as it does alone, and differs from LRU', async () => {
    const requests = await branchLoop();
    const options = { capacityTokens: 8 * 1024, blockSize: BLOCK };
    const alone = replayTrace(requests, { ...options, policy: policyFactory('ste-learned') });
    const lru = replayTrace(requests, { ...options, policy: policyFactory('lru') });
    const suite = replaySuite({ path: 'b', format: 'kvflow', requests, skipped: 0 }, { policies: [policyFactory('ste-learned')], capacities: [8 * 1024] });
    expect(suite.results[0]!.hitTokens).toBe(alone.hitTokens);
    expect(alone.hitTokens).not.toBe(lru.hitTokens);
  });
});

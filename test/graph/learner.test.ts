import { policyFactory } from '../../src/cache/policy-registry.js';
import fc from 'fast-check';
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { replayTrace } from '../../src/replay/replay.js';
import { AgentAnnotator, OnlineGraphLearner, learnGraph } from '../../src/graph/learner.js';
import { PrefixSignatures } from '../../src/graph/prefix-signatures.js';
import type { TraceRequest } from '../../src/types.js';
import { generateRequests } from '../../src/workload/generate.js';
import { parseWorkflowSpec } from '../../src/workload/spec.js';
import { runs } from '../helpers/runs.js';

async function generated(name: string): Promise<TraceRequest[]> {
  const path = new URL(`../../workloads/${name}`, import.meta.url);
  const spec = parseWorkflowSpec(JSON.parse(await readFile(path, 'utf8')), name);
  return generateRequests(spec, { seed: 1 });
}

const strip = (requests: TraceRequest[]) => requests.map(({ agent: _a, fixedBlocks: _f, ...rest }) => rest);

describe('prefix signatures', () => {
  it('finds the prefix later prompts branch from, not a prompt that grows by appending', () => {
    const signatures = new PrefixSignatures({ minDepth: 2 });
    signatures.record([1, 2, 3, 10, 11]);
    expect(signatures.identify([1, 2, 3, 20, 21])).toBeUndefined();
    signatures.record([1, 2, 3, 20, 21]);
    expect(signatures.identify([1, 2, 3, 30, 31])).toEqual({ node: 3, depth: 3 });
    // A conversation that re-sends its previous prompt plus a new tail never branches.
    const growing = new PrefixSignatures();
    growing.record([5, 6, 7]);
    growing.record([5, 6, 8, 9]); // old partial last block 7 replaced by a fuller 8
    growing.record([5, 6, 8, 10, 11]);
    expect(growing.identify([5, 6, 8, 10, 12, 13])).toBeUndefined();
  });
});

describe('online graph learner', () => {
  it('recovers the declared order of a 10-agent cycle from a trace with agent tags stripped', async () => {
    const graph = learnGraph(strip(await generated('sequential-10.json')));
    expect(graph.agents).toHaveLength(10);
    expect(graph.agents.every((a) => a.signaturePages === 128)).toBe(true); // 2048 tokens / 16
    // Each learned agent has exactly one successor with probability 1, and following them is a 10-cycle.
    const next = new Map(graph.transitions.map((t) => [t.from, t.to]));
    expect(graph.transitions.every((t) => t.probability === 1)).toBe(true);
    let agent = graph.agents[0]!.name;
    const seen = new Set<string>();
    while (!seen.has(agent)) {
      seen.add(agent);
      agent = next.get(agent)!;
    }
    expect(seen.size).toBe(10);
  });

  it('gives STE in the declared order once it has seen a full cycle of agents', async () => {
    const requests = new AgentAnnotator().annotateAll(strip(await generated('sequential-10.json')));
    const learner = new OnlineGraphLearner();
    const agents: string[] = [];
    for (const request of requests.slice(0, 45)) {
      if (request.agent === undefined) continue;
      learner.begin(request.workflow!, request.agent);
      learner.end(request.workflow!, request.agent);
      if (!agents.includes(request.agent)) agents.push(request.agent);
    }
    // The last request run was agent k; agent k+j is j steps away.
    const last = requests[44]!.agent!;
    const at = agents.indexOf(last);
    for (let j = 1; j < agents.length; j++) {
      expect(learner.snapshot().get(`wf0/${agents[(at + j) % agents.length]}`)).toBe(j);
    }
  });

  it('closes most of the lru-to-belady gap on a stripped workflow trace', async () => {
    const requests = new AgentAnnotator().annotateAll(strip(await generated('sequential-10.json')));
    const options = { capacityTokens: 12 * 1024, blockSize: 16 };
    const lru = replayTrace(requests, { ...options, policy: policyFactory('lru') }).hitRate;
    const belady = replayTrace(requests, { ...options, policy: policyFactory('belady') }).hitRate;
    const ste = replayTrace(requests, { ...options, policy: policyFactory('ste'), ste: new OnlineGraphLearner() }).hitRate;
    expect(belady - lru).toBeGreaterThan(0.3);
    expect((ste - lru) / (belady - lru)).toBeGreaterThan(0.6);
  });

  it('is causal: changing or shuffling requests after k changes no decision before k', async () => {
    const base = strip(await generated('fanout-barrier.json'));
    fc.assert(
      fc.property(fc.integer({ min: 1, max: base.length - 2 }), fc.integer(), (k, seed) => {
        const tail = base.slice(k);
        // A deterministic shuffle of the tail, with one prompt rewritten.
        const shuffled = tail
          .map((request, i) => ({ request, key: Math.sin(seed + i) }))
          .sort((a, b) => a.key - b.key)
          .map(({ request }, i) => (i === 0 ? { ...request, blocks: request.blocks.map((b) => b + 1e6) } : request));
        const a = [...base.slice(0, k), ...tail];
        const b = [...base.slice(0, k), ...shuffled];
        const annotate = (requests: TraceRequest[]) => new AgentAnnotator().annotateAll(requests).slice(0, k);
        expect(annotate(b)).toEqual(annotate(a));
        // The STE each request sees when it begins depends only on earlier requests.
        const steBefore = (requests: TraceRequest[]) => {
          const annotated = new AgentAnnotator().annotateAll(requests);
          const learner = new OnlineGraphLearner();
          const seen: string[] = [];
          for (const request of annotated.slice(0, k)) {
            if (request.agent === undefined) continue;
            learner.begin(request.workflow!, request.agent);
            seen.push(JSON.stringify([...learner.snapshot()].sort()));
            learner.end(request.workflow!, request.agent);
          }
          return seen;
        };
        expect(steBefore(b)).toEqual(steBefore(a));
      }),
      { numRuns: runs(25) },
    );
  });

  it('uses declared agent tags when present', async () => {
    const requests = await generated('sequential-10.json');
    const annotated = new AgentAnnotator().annotateAll(requests);
    expect(annotated.map((r) => [r.agent, r.fixedBlocks])).toEqual(requests.map((r) => [r.agent, r.fixedBlocks]));
    expect(annotated.some((r) => r.learnedAgent)).toBe(false);
  });
});

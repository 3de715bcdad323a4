/**
 * Exact behaviour of the online graph learner on hand-built traffic: the order `kvflow trace graph`
 * prints transitions in, which transitions are followed, how long a silent session lives, and how much
 * work a request costs. The property tests (learner-sessions.test.ts) hold the STE values to a naive
 * model; these pin what that model leaves free.
 */
import { describe, expect, it } from 'vitest';
import { AgentAnnotator, learnGraph, OnlineGraphLearner, type LearnerOptions } from '../../src/graph/learner.js';
import type { TraceRequest } from '../../src/types.js';

/** Runs sessions' calls in the order given: each call begins and ends its agent. */
function learn(learner: OnlineGraphLearner, calls: [session: string, agent: string][]): OnlineGraphLearner {
  for (const [session, agent] of calls) {
    learner.begin(session, agent);
    learner.end(session, agent);
  }
  return learner;
}

describe('OnlineGraphLearner transitions', () => {
  it('lists transitions most frequent first, then by source and target name, each with its share of the source', () => {
    // Agents first seen in the order C, A, B, D, Z, Y, E, P, Q: the listing must not follow that order.
    const learner = learn(new OnlineGraphLearner(), [
      ['s1', 'C'], ['s1', 'A'], ['s1', 'B'], ['s1', 'A'],
      ['s2', 'B'], ['s2', 'A'], ['s2', 'B'], ['s2', 'A'], ['s2', 'B'],
      ['s3', 'D'], ['s3', 'Z'],
      ['s4', 'D'], ['s4', 'Y'],
      // E's targets first seen in name order (P, then Q): equal sources still compare by target.
      ['s5', 'E'], ['s5', 'P'],
      ['s6', 'E'], ['s6', 'Q'],
    ]);
    expect(learner.transitions()).toEqual([
      { from: 'A', to: 'B', count: 3, probability: 1 },
      { from: 'B', to: 'A', count: 3, probability: 1 },
      { from: 'C', to: 'A', count: 1, probability: 1 },
      { from: 'D', to: 'Y', count: 1, probability: 0.5 },
      { from: 'D', to: 'Z', count: 1, probability: 0.5 },
      { from: 'E', to: 'P', count: 1, probability: 0.5 },
      { from: 'E', to: 'Q', count: 1, probability: 0.5 },
    ]);
    expect(learner.sessions).toBe(6);
  });

  it('follows a transition seen at least minTransitions times, not one seen fewer', () => {
    const learner = learn(new OnlineGraphLearner({ minTransitions: 2, minProbability: 0 }), [
      ['t', 'A'], ['t', 'B'], ['t', 'A'], ['t', 'B'], ['t', 'A'], ['t', 'C'], ['p', 'A'],
    ]);
    // From an ended A: B (seen twice) is one step away; C (seen once) is not followed.
    expect(learner.snapshot().get('p/B')).toBe(1);
    expect(learner.snapshot().has('p/C')).toBe(false);
  });

  it("follows a transition with at least minProbability of its source's departures, exactly at the bound too", () => {
    // A's departures: B once, C three times, D once: shares 0.2, 0.6, 0.2.
    const calls: [string, string][] = [];
    for (const [session, next] of [['u', 'B'], ['v', 'C'], ['w', 'C'], ['x', 'C'], ['y', 'D']]) calls.push([session!, 'A'], [session!, next!]);
    calls.push(['p', 'A']);
    const at = learn(new OnlineGraphLearner({ minProbability: 0.2 }), calls).snapshot();
    expect([at.get('p/B'), at.get('p/C'), at.get('p/D')]).toEqual([1, 1, 1]);
    const above = learn(new OnlineGraphLearner({ minProbability: 0.25 }), calls).snapshot();
    expect([above.get('p/B'), above.get('p/C'), above.get('p/D')]).toEqual([undefined, 1, undefined]);
  });

  it('re-reads every live session when a new transition changes the graph', () => {
    const learner = learn(new OnlineGraphLearner(), [['waiting', 'A']]);
    expect(learner.snapshot().has('waiting/B')).toBe(false);
    learn(learner, [['other', 'A'], ['other', 'B']]);
    // The waiting session's place did not change, but the graph grew an edge out of it.
    expect(learner.snapshot().get('waiting/B')).toBe(1);
    expect(learner.takeChanges().get('waiting/B')).toBe(1);
  });

  it('re-reads waiting sessions when a successor stops being followed, even when the others keep their order', () => {
    // A's successors go from [B, C] (shares 1/2 each) to [B] (C at 1/4, under 0.3).
    const learner = learn(new OnlineGraphLearner({ minProbability: 0.3 }), [['b', 'A'], ['b', 'B'], ['c', 'A'], ['c', 'C'], ['waiting', 'A']]);
    expect(learner.snapshot().get('waiting/C')).toBe(1);
    learn(learner, [['d', 'A'], ['d', 'B'], ['e', 'A'], ['e', 'B']]);
    expect(learner.snapshot().has('waiting/C')).toBe(false);
    expect(learner.snapshot().get('waiting/B')).toBe(1);
  });

  it('re-reads only its own session when a transition is counted again without changing what is followed', () => {
    const learner = learn(new OnlineGraphLearner(), [['a', 'A'], ['a', 'B'], ['b', 'A']]);
    learner.begin('c', 'A');
    learner.begin('c', 'B');
    expect(learner.lastWork).toBe(1);
  });

  it("logs as changed only the keys whose value moved when a session's place moves", () => {
    const learner = learn(new OnlineGraphLearner(), [['t', 'A'], ['t', 'B'], ['t', 'A']]);
    learner.begin('s', 'A');
    learner.takeChanges();
    // Running A: {A: 0, B: 1}; ended A: {B: 1, A: 2}. B keeps its value.
    learner.end('s', 'A');
    expect(Object.fromEntries(learner.takeChanges())).toEqual({ 's/A': 2 });
  });

  it('costs a request its own session and place: two reads for a new place, one for a known one', () => {
    const learner = new OnlineGraphLearner();
    learner.begin('a', 'X');
    expect(learner.lastWork).toBe(2);
    learner.end('a', 'X');
    expect(learner.lastWork).toBe(2);
    learner.begin('b', 'X');
    expect(learner.lastWork).toBe(1);
    learner.end('b', 'X');
    expect(learner.lastWork).toBe(1);
  });
});

describe('OnlineGraphLearner live window', () => {
  /**
   * A learner that has seen `gaps` (in requests) between calls of one returning session, then one
   * session that ended its only call: the probe, whose next agent Q has STE 1 while it is live.
   * Returns whether the probe is still live after `silence` more requests of other (new) sessions.
   */
  function probeLiveAfter(options: LearnerOptions, gaps: number[], silence: number): boolean {
    const learner = new OnlineGraphLearner(options);
    let filler = 0;
    const wait = (requests: number) => {
      // New sessions that call once and end, so they leave once silent (the expiry walk stays short).
      for (let i = 0; i < requests; i++) learn(learner, [[`new-${filler++}`, 'F']]);
    };
    // The returning session alternates P and Q, which teaches P -> Q.
    learner.begin('returning', 'P');
    gaps.forEach((gap, i) => {
      wait(gap - 1);
      learner.begin('returning', i % 2 === 0 ? 'Q' : 'P');
    });
    learner.begin('probe', 'P');
    learner.end('probe', 'P');
    expect(learner.snapshot().get('probe/Q')).toBe(1);
    wait(silence);
    return learner.snapshot().has('probe/Q');
  }

  /** The live window: the longest silence a session survives. */
  function window(options: LearnerOptions, gaps: number[]): number {
    let low = 0;
    let high = 1;
    while (probeLiveAfter(options, gaps, high)) {
      low = high;
      high *= 2;
      if (high > 10_000) return Infinity;
    }
    while (high - low > 1) {
      const mid = Math.floor((low + high) / 2);
      if (probeLiveAfter(options, gaps, mid)) low = mid;
      else high = mid;
    }
    return low;
  }

  const EIGHT_GAPS = [10, 20, 30, 40, 50, 60, 70, 80];

  it('keeps the default silence until eight gaps were seen', () => {
    expect(window({ defaultSilence: 300 }, EIGHT_GAPS.slice(0, 7))).toBe(300);
    expect(window({}, EIGHT_GAPS.slice(0, 7))).toBe(4096);
  });

  it("is then the gaps' 0.95 quantile times two", () => {
    expect(window({ defaultSilence: 300 }, EIGHT_GAPS)).toBe(160);
    expect(window({ defaultSilence: 300 }, [...EIGHT_GAPS].reverse())).toBe(160);
  });

  it('takes the quantile and slack it is given, the top gap for quantile 1, and never less than 16 requests', () => {
    expect(window({ defaultSilence: 300, liveQuantile: 0.5, liveSlack: 3 }, EIGHT_GAPS)).toBe(150);
    expect(window({ defaultSilence: 300, liveQuantile: 1 }, EIGHT_GAPS)).toBe(160);
    expect(window({ defaultSilence: 300 }, [2, 2, 2, 2, 2, 2, 2, 2])).toBe(16);
  });

  it('ends only idle sessions past maxSessions, the longest silent first, one per session too many', () => {
    const learner = learn(new OnlineGraphLearner({ maxSessions: 2 }), [['a', 'X'], ['b', 'X'], ['c', 'X']]);
    learner.begin('d', 'X');
    // Each session past two ends the longest-silent idle one (a when c came, b now); c (idle) and d stay.
    expect(learner.liveSessions).toBe(2);
    learner.end('d', 'X');
    learner.begin('e', 'X');
    // c ended the walk's one read past the bound; e's own place was known: two reads in all.
    expect(learner.liveSessions).toBe(2);
    expect(learner.lastWork).toBe(2);
  });
});

describe('learnGraph', () => {
  const block = (agent: number, i: number) => agent * 1000 + i;
  /** Two workflows interleaved, each calling planner then coder; their prompts share two blocks per agent. */
  const trace: TraceRequest[] = [];
  for (let round = 0; round < 3; round++) {
    for (const workflow of ['w1', 'w2']) {
      for (const agent of [1, 2]) {
        trace.push({
          id: `r${trace.length}`,
          t: trace.length,
          workflow,
          agent: agent === 1 ? 'planner' : 'coder',
          blocks: [block(agent, 0), block(agent, 1), block(9, trace.length)],
          blockSize: 16,
          inputLength: 3 * 16,
          outputLength: 1,
        });
      }
    }
  }

  it("follows each workflow's own order, counts its sessions, and lists the agents", () => {
    const graph = learnGraph(trace);
    expect(graph.transitions).toEqual([
      { from: 'planner', to: 'coder', count: 6, probability: 1 },
      { from: 'coder', to: 'planner', count: 4, probability: 1 },
    ]);
    expect(graph.sessions).toBe(2);
    expect(graph.agents.map((a) => a.name)).toEqual(['planner', 'coder']);
  });
});

describe('AgentAnnotator.agents', () => {
  it('calls an agent growing once at least half its repeated calls re-sent the previous prompt', () => {
    const annotator = new AgentAnnotator();
    const call = (blocks: number[]) => annotator.annotate({ id: 'r', workflow: 'w', agent: 'chat', fixedBlocks: 1, blocks, blockSize: 1, inputLength: blocks.length, outputLength: 1 });
    call([1, 2]);
    call([1, 2, 3]); // re-sent and extended: 1 extension of 1 pair
    expect(annotator.agents()).toEqual([{ name: 'chat', signaturePages: 1, requests: 2, growing: true }]);
    call([1, 7]); // not re-sent: 1 of 2
    expect(annotator.agents()[0]!.growing).toBe(true);
    call([2, 8]); // 1 of 3
    expect(annotator.agents()[0]!.growing).toBe(false);
    expect(annotator.sessions).toBe(1);
  });
});

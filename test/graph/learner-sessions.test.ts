import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OnlineGraphLearner } from '../../src/graph/learner.js';
import { NaiveGraphLearner } from '../helpers/naive-learner.js';
import { runs } from '../helpers/runs.js';

const SEED = 20261201;

describe('OnlineGraphLearner sessions', () => {
  it('serves the same STE as re-reading every session on every request', () => {
    const event = fc.record({ begin: fc.boolean(), session: fc.integer({ min: 0, max: 5 }), agent: fc.integer({ min: 0, max: 4 }) });
    fc.assert(
      fc.property(fc.array(event, { maxLength: 300 }), (events) => {
        // Without a default silence the window is the old one (unbounded until sessions come back).
        const learner = new OnlineGraphLearner({ defaultSilence: Infinity });
        const reference = new NaiveGraphLearner();
        for (const { begin, session, agent } of events) {
          for (const each of [learner, reference]) (begin ? each.begin : each.end).call(each, `s${session}`, `a${agent}`);
          expect(new Map([...learner.snapshot()].sort())).toEqual(new Map([...reference.snapshot()].sort()));
        }
      }),
      { numRuns: runs(150), seed: SEED },
    );
  });

  it('forgets sessions that never come back, with work per request independent of how many there were', () => {
    const learner = new OnlineGraphLearner();
    // Three sessions teach planner -> coder -> planner (fewer than 8 returns: no gap quantile yet).
    for (const session of ['x', 'y', 'z']) {
      for (const agent of ['planner', 'coder']) {
        learner.begin(session, agent);
        learner.end(session, agent);
      }
    }
    let mostWork = 0;
    for (let i = 0; i < 10_000; i++) {
      learner.begin(`unique-${i}`, 'planner');
      mostWork = Math.max(mostWork, learner.lastWork);
      learner.end(`unique-${i}`, 'planner');
      mostWork = Math.max(mostWork, learner.lastWork);
    }
    // Before, every one of them stayed live (its coder key at STE 1) and each request re-read them all.
    expect(learner.snapshot().size).toBeLessThanOrEqual(4096 + 8);
    expect(learner.liveSessions).toBeLessThanOrEqual(4096 + 8);
    expect(learner.snapshot().get('unique-9999/coder')).toBe(1);
    expect(learner.snapshot().has('unique-0/coder')).toBe(false);
    expect(mostWork).toBeLessThanOrEqual(8);
  });

  it('keeps at most maxSessions sessions, ending the longest-silent idle ones', () => {
    const learner = new OnlineGraphLearner({ maxSessions: 100 });
    for (let i = 0; i < 1_000; i++) {
      learner.begin(`s${i}`, 'a');
      learner.end(`s${i}`, 'a');
    }
    expect(learner.liveSessions).toBeLessThanOrEqual(101);
  });

  it('keeps a running session however long it is silent, and ends it once it ended and stayed silent', () => {
    const learner = new OnlineGraphLearner({ defaultSilence: 16 });
    learner.begin('slow', 'a');
    for (let i = 0; i < 100; i++) {
      learner.begin(`s${i}`, 'b');
      learner.end(`s${i}`, 'b');
    }
    expect(learner.snapshot().get('slow/a')).toBe(0);
    learner.end('slow', 'a');
    learner.begin('other', 'b');
    expect(learner.snapshot().has('slow/a')).toBe(false);
    expect(learner.liveSessions).toBeLessThanOrEqual(18);
  });
});

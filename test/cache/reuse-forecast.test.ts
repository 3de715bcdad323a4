/**
 * ReuseForecast by hand: a caller seen twice is due one of its own gaps (the first, then a 0.5-weighted
 * moving average) after its last call, or, once overdue, as far after now as its last call is before it;
 * a caller seen once follows its session's pace (the first gap, then a 0.3-weighted moving average; 8
 * ticks globally until a session has one) times its agent's steps (3 when unknown); dead pages (the
 * caller called again without them) and ended sessions (silent for more than 3 gaps + 8 ticks) are never
 * used again.
 */
import { describe, expect, it } from 'vitest';
import { NEVER_AGAIN, ReuseForecast } from '../../src/cache/learned-ste/reuse-forecast.js';

describe('ReuseForecast', () => {
  it("forecasts a page by its caller's own rhythm once the caller has called twice, and overdue callers after now", () => {
    const forecast = new ReuseForecast();
    const first = forecast.call({ workflow: 'w' }, 0);
    expect([...first.changed]).toEqual([]);
    forecast.touch(5, first.owner);
    expect(forecast.nextUse(5)).toBe(0 + 3 * 8); // one call: the global gap
    expect(forecast.nextUse(6)).toBe(0); // a page nobody owns: unknown, i.e. now
    expect([...forecast.pages()]).toEqual([5]);

    const second = forecast.call({ workflow: 'w' }, 10);
    expect(second.owner).toBe(first.owner);
    expect([...second.changed]).toEqual([5]);
    expect(forecast.nextUse(5)).toBe(NEVER_AGAIN); // the owner called again without page 5: dead
    forecast.touch(5, second.owner);
    expect(forecast.nextUse(5)).toBe(10 + 10); // the caller's first gap

    forecast.call({ workflow: 'w' }, 14);
    forecast.touch(5, second.owner);
    expect(forecast.nextUse(5)).toBe(14 + (0.5 * 4 + 0.5 * 10));
    forecast.call({ workflow: 'w', agent: 'other' }, 30); // another caller: now 30, page 5's caller was due at 21
    expect(forecast.nextUse(5)).toBe(30 + (30 - 14));
  });

  it('takes a session silent for more than three gaps plus eight ticks as ended, until it calls again', () => {
    const forecast = new ReuseForecast();
    const w = forecast.call({ workflow: 'w' }, 0);
    forecast.touch(1, w.owner);
    forecast.call({ workflow: 'w' }, 10); // w's gap: 10
    forecast.touch(1, w.owner);
    const v = forecast.call({ workflow: 'v' }, 38);
    expect([...v.changed]).toEqual([]); // 38 - 10 = 28 is not more than 3 * 10 + 8
    forecast.touch(2, v.owner);
    const later = forecast.call({ workflow: 'v' }, 49);
    expect([...later.changed]).toEqual([2, 1]); // v's own pages, then those of w, which has just ended
    expect(forecast.nextUse(1)).toBe(NEVER_AGAIN);
    expect([...forecast.call({ workflow: 'v' }, 50).changed]).toEqual([2]); // w is reported once
    forecast.call({ workflow: 'w' }, 51);
    forecast.touch(1, w.owner);
    expect(forecast.nextUse(1)).toBe(51 + (0.5 * 41 + 0.5 * 10)); // w's caller has called three times
  });

  it('separates callers by agent, follows the learned steps of a caller seen once, and forgets pages', () => {
    const forecast = new ReuseForecast();
    // Session w1 runs plan -> code twice: the learner knows the cycle.
    let tick = 0;
    const run = (workflow: string, agent: string, page: number) => {
      const { owner } = forecast.call({ workflow, agent }, tick);
      forecast.touch(page, owner);
      forecast.finished({ workflow, agent });
      tick += 10;
      return owner;
    };
    for (let round = 0; round < 2; round++) {
      run('w1', 'plan', 1);
      run('w1', 'code', 2);
    }
    // Session w2 calls each agent once (w2's gap: 10): after code, plan is due in one step, code in two.
    const plan = run('w2', 'plan', 3);
    const code = run('w2', 'code', 4);
    expect(plan).not.toBe(code);
    expect([forecast.nextUse(3), forecast.nextUse(4)]).toEqual([50 + 1 * 10, 50 + 2 * 10]);
    forecast.forget(3);
    expect(forecast.nextUse(3)).toBe(50);
    expect([...forecast.pages()]).toEqual([1, 2, 4]);
    forecast.forget(3); // twice: nothing
    forecast.forget(100_000); // never seen
    forecast.touch(5000, code); // beyond the initial table
    expect(forecast.nextUse(5000)).toBe(50 + 2 * 10);
  });

  it("leaves calls without an agent out of the learned graph: they do not stand between the agents' steps", () => {
    const forecast = new ReuseForecast();
    let tick = 0;
    const run = (workflow: string, agent: string | undefined, page: number) => {
      const identity = agent === undefined ? { workflow } : { workflow, agent };
      const { owner } = forecast.call(identity, tick);
      forecast.touch(page, owner);
      forecast.finished(identity);
      tick += 10;
      return owner;
    };
    // Session w1 runs plan -> code twice, with an agentless call after each agent.
    for (let round = 0; round < 2; round++) {
      run('w1', 'plan', 1);
      run('w1', undefined, 5);
      run('w1', 'code', 2);
      run('w1', undefined, 6);
    }
    // As without the agentless calls: after w2's code (tick 90, w2's gap 10), plan is one step away, code two.
    run('w2', 'plan', 3);
    run('w2', 'code', 4);
    expect([forecast.nextUse(3), forecast.nextUse(4)]).toEqual([90 + 1 * 10, 90 + 2 * 10]);
  });

  it("averages a session's gaps (newest weighted 0.3) and the global gap (0.1) for callers seen once", () => {
    const forecast = new ReuseForecast();
    // Three calls of session w by three callers (agents a, b, c). Session w's gaps: 10, then 4:
    // 0.3 * 4 + 0.7 * 10 = 8.2.
    const a = forecast.call({ workflow: 'w', agent: 'a' }, 0);
    forecast.touch(1, a.owner);
    forecast.call({ workflow: 'w', agent: 'b' }, 10);
    const c = forecast.call({ workflow: 'w', agent: 'c' }, 14);
    forecast.touch(2, c.owner);
    // c has called once and is running (STE 0, taken as at least one step): one step of w's pace.
    expect(forecast.nextUse(2)).toBeCloseTo(14 + 1 * 8.2, 9);
    // The global gap moved from 8 with each of w's gaps: 0.1 * 10 + 0.9 * 8 = 8.2, then 0.1 * 4 + 0.9 * 8.2 = 7.78.
    // A caller without an agent has no steps in the graph: three steps, at the global pace (v has no gap yet).
    const v = forecast.call({ workflow: 'v' }, 20);
    forecast.touch(3, v.owner);
    expect(forecast.nextUse(3)).toBeCloseTo(20 + 3 * 7.78, 9);
  });

  it('forecasts a caller due exactly now at now, and keeps a session silent for exactly three gaps plus eight', () => {
    const forecast = new ReuseForecast();
    const w = forecast.call({ workflow: 'w' }, 0);
    forecast.call({ workflow: 'w' }, 10); // w's gap and its caller's: 10
    forecast.touch(1, w.owner);
    const other = forecast.call({ workflow: 'v' }, 20);
    expect(forecast.nextUse(1)).toBe(20); // due at 10 + 10 = now
    expect([...forecast.call({ workflow: 'v' }, 48).changed]).toEqual([]); // 48 - 10 = 38 = 3 * 10 + 8: not more
    expect(forecast.nextUse(1)).toBe(48 + (48 - 10));
    forecast.touch(2, other.owner);
    expect([...forecast.pages()]).toEqual([1, 2]);
  });

  it('moves a page to the session of its latest user, and forgets pages of the first caller', () => {
    const forecast = new ReuseForecast();
    const w = forecast.call({ workflow: 'w' }, 0); // owner 0
    forecast.touch(1, w.owner);
    forecast.touch(2, w.owner);
    const v = forecast.call({ workflow: 'v' }, 5);
    forecast.touch(1, v.owner); // page 1 now belongs to v's caller
    expect([...forecast.pages()]).toEqual([2, 1]);
    forecast.forget(2);
    expect(forecast.nextUse(2)).toBe(5); // nobody's: unknown, i.e. now
    expect([...forecast.pages()]).toEqual([1]);
  });

  it('grows its page table at exactly its initial size, new pages owned by nobody', () => {
    const forecast = new ReuseForecast();
    const w = forecast.call({ workflow: 'w' }, 0); // the only caller: owner 0
    forecast.forget(5000); // beyond the table, never seen
    expect(forecast.nextUse(5000)).toBe(0);
    // Page 1,024, the first past the initial table, before it grew: owned by nobody.
    forecast.forget(1024);
    expect(forecast.nextUse(1024)).toBe(0);
    forecast.touch(1024, w.owner); // the table starts with 1,024 pages
    expect(forecast.nextUse(1024)).toBe(0 + 3 * 8);
    forecast.call({ workflow: 'v' }, 1); // owner 1
    expect(forecast.nextUse(1500)).toBe(1);
    expect(forecast.nextUse(1024)).toBe(0 + 3 * 8);
  });
});


/**
 * ReuseForecast by hand: a session's pace (the first gap, then a 0.3-weighted moving average; 8 ticks
 * globally until a session has one), unknown steps counted as 3, dead pages (the owner called again
 * without them) and ended sessions (silent for more than 3 gaps + 8 ticks) never used again.
 */
import { describe, expect, it } from 'vitest';
import { NEVER_AGAIN, ReuseForecast } from '../src/graph/reuse-forecast.js';

describe('ReuseForecast', () => {
  it("forecasts a page at its session's last call plus three of its gaps when the agent's steps are unknown", () => {
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
    expect(forecast.nextUse(5)).toBe(10 + 3 * 10); // the session's first gap

    forecast.call({ workflow: 'w' }, 14);
    forecast.touch(5, second.owner);
    expect(forecast.nextUse(5)).toBeCloseTo(14 + 3 * (0.3 * 4 + 0.7 * 10), 12);
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
    expect(forecast.nextUse(1)).toBeCloseTo(51 + 3 * (0.3 * 41 + 0.7 * 10), 12);
  });

  it('separates owners by agent, follows the learned steps of an agent, and forgets pages', () => {
    const forecast = new ReuseForecast();
    // Two rounds of plan -> code in one session teach the learner the cycle.
    let tick = 0;
    const owners: Record<string, number> = {};
    for (let round = 0; round < 2; round++) {
      for (const agent of ['plan', 'code']) {
        const { owner } = forecast.call({ workflow: 'w', agent }, tick);
        owners[agent] = owner;
        forecast.touch(agent === 'plan' ? 1 : 2, owner);
        forecast.finished({ workflow: 'w', agent });
        tick += 10;
      }
    }
    expect(owners.plan).not.toBe(owners.code);
    // Last call at 30 (code), gap 10: plan is due in one step, code in two.
    expect([forecast.nextUse(1), forecast.nextUse(2)]).toEqual([30 + 1 * 10, 30 + 2 * 10]);
    forecast.forget(1);
    expect(forecast.nextUse(1)).toBe(30);
    expect([...forecast.pages()]).toEqual([2]);
    forecast.forget(1); // twice: nothing
    forecast.forget(100_000); // never seen
    forecast.touch(5000, owners.code!); // beyond the initial table
    expect(forecast.nextUse(5000)).toBe(30 + 2 * 10);
  });
});

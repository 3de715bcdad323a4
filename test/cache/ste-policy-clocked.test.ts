/**
 * `StePolicy` fed STE relative to clocks (`ClockedSteChanges`) against the same policy fed the same
 * information as absolute values (`Map`s of agent -> STE): every page's STE, the priorities the cache holds
 * for its candidates (re-keys that reach the right pages), and the eviction order and victims must agree.
 *
 * The driver keeps the truth: each agent's value is unknown, absolute, or relative to one of three clocks
 * (its STE = relative value - clock value). Clocks move (noting every agent relative to them), agents change
 * clock, leave for an absolute or unknown value, groups empty and their clock comes back later.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { PageStats, PolicyPrompt, PriorityOwner } from '../../src/cache/policy.js';
import { StePolicy } from '../../src/cache/ste-policy.js';
import { ClockedSteChanges, ClockedSteLog, SteClock } from '../../src/graph/ste-clock.js';
import { runs } from '../helpers/runs.js';

const SEED = 20261203;
const PAGES = 10;
const AGENTS = 4;
const CLOCKS = 3;

const stats: PageStats = { lastAccess: () => 0, accessCount: () => 1, nextUse: () => Infinity };

/**
 * A cache as `RadixCache` treats the policy: candidates keyed by (priority, last access, page), a re-read
 * of a page that is no candidate answered with false, the priority read when a page becomes a candidate.
 */
class FakeCache implements PriorityOwner {
  readonly key = new Map<number, number>();
  readonly access = new Map<number, number>();
  #tick = 0;
  constructor(readonly policy: StePolicy) {
    policy.bind(this);
  }

  reprioritize(page: number): boolean {
    if (!this.key.has(page)) return false;
    this.key.set(page, this.policy.priority(page, stats));
    return true;
  }

  enter(page: number): void {
    if (this.key.has(page)) return;
    this.access.set(page, ++this.#tick);
    this.key.set(page, this.policy.priority(page, stats));
  }

  leave(page: number): void {
    this.key.delete(page);
  }

  /** Candidates, first victim first. */
  order(): number[] {
    return [...this.key.keys()].sort((a, b) => this.key.get(a)! - this.key.get(b)! || this.access.get(a)! - this.access.get(b)! || a - b);
  }

  /** Evicts the first victim (the policy forgets it), or -1. */
  evict(): number {
    const victim = this.order()[0] ?? -1;
    if (victim >= 0) {
      this.key.delete(victim);
      this.policy.forget(victim);
    }
    return victim;
  }
}

type Truth = { kind: 'unknown' } | { kind: 'abs'; value: number } | { kind: 'rel'; clock: number; value: number };

type Op =
  | { kind: 'tag'; page: number; agent: number }
  | { kind: 'forget'; page: number }
  | { kind: 'enter'; page: number }
  | { kind: 'leave'; page: number }
  | { kind: 'evict' }
  | { kind: 'rel'; agent: number; clock: number; value: number | null }
  | { kind: 'move'; clock: number; by: number }
  | { kind: 'take' }
  | { kind: 'abs'; agent: number; value: number | null }
  | { kind: 'all'; values: [number, number][] };

const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('tag' as const), page: fc.nat(PAGES - 1), agent: fc.nat(AGENTS - 1) }),
  fc.record({ kind: fc.constant('forget' as const), page: fc.nat(PAGES - 1) }),
  fc.record({ kind: fc.constant('enter' as const), page: fc.nat(PAGES - 1) }),
  fc.record({ kind: fc.constant('leave' as const), page: fc.nat(PAGES - 1) }),
  fc.record({ kind: fc.constant('evict' as const) }),
  fc.record({ kind: fc.constant('rel' as const), agent: fc.nat(AGENTS - 1), clock: fc.nat(CLOCKS - 1), value: fc.option(fc.integer({ min: -2, max: 6 }), { freq: 4 }) }),
  fc.record({ kind: fc.constant('move' as const), clock: fc.nat(CLOCKS - 1), by: fc.integer({ min: -1, max: 3 }) }),
  fc.record({ kind: fc.constant('take' as const) }),
  fc.record({ kind: fc.constant('take' as const) }),
  fc.record({ kind: fc.constant('abs' as const), agent: fc.nat(AGENTS - 1), value: fc.option(fc.nat(5), { freq: 3 }) }),
  fc.record({ kind: fc.constant('all' as const), values: fc.array(fc.tuple(fc.nat(AGENTS - 1), fc.nat(5)), { maxLength: 3 }) }),
);

/** Runs `ops` on two policies, one fed clocked changes and one absolute values, checking after every op. */
function compare(ops: readonly Op[]): void {
  const clocked = new FakeCache(new StePolicy());
  const absolute = new FakeCache(new StePolicy());
  const both = [clocked, absolute];
  const clocks = Array.from({ length: CLOCKS }, () => new SteClock());
  const log = new ClockedSteLog();
  const truth: Truth[] = Array.from({ length: AGENTS }, () => ({ kind: 'unknown' }));
  /** What the absolute policy was last told, per agent (NaN: unknown). */
  const told: number[] = Array.from({ length: AGENTS }, () => NaN);
  const tags = new Map<number, Set<number>>();
  const steOf = (agent: number): number => {
    const t = truth[agent]!;
    return t.kind === 'unknown' ? NaN : t.kind === 'abs' ? t.value : t.value - clocks[t.clock]!.value;
  };
  const pageSte = (page: number): number | undefined => {
    const known = [...(tags.get(page) ?? [])].map(steOf).filter((ste) => !Number.isNaN(ste));
    return known.length === 0 ? undefined : Math.min(...known);
  };
  /** Hands the log's changes to the clocked policy, and the absolute values that changed to the other. */
  const take = (): void => {
    const changes = log.take();
    expect(changes).toBeInstanceOf(ClockedSteChanges);
    clocked.policy.applySte(changes);
    const values = new Map<string, number | undefined>();
    for (let agent = 0; agent < AGENTS; agent++) {
      const ste = steOf(agent);
      if (ste === told[agent] || (Number.isNaN(ste) && Number.isNaN(told[agent]!))) continue;
      values.set(`a${agent}`, Number.isNaN(ste) ? undefined : ste);
      told[agent] = ste;
    }
    absolute.policy.applySte(values);
  };
  const check = (pending: boolean): void => {
    for (let page = 0; page < PAGES; page++) {
      expect(clocked.policy.steOfPage(page)).toBe(absolute.policy.steOfPage(page));
      if (!pending) expect(clocked.policy.steOfPage(page)).toBe(pageSte(page));
    }
    if (!pending) {
      // In play: the agents with a known value or a tagged page.
      const inPlay = new Set([...truth.keys()].filter((agent) => truth[agent]!.kind !== 'unknown'));
      for (const agents of tags.values()) for (const agent of agents) inPlay.add(agent);
      expect(clocked.policy.agentsInPlay).toBe(inPlay.size);
    }
    // The priorities the caches hold: the same, and none stale.
    expect([...clocked.key].sort((a, b) => a[0] - b[0])).toEqual([...absolute.key].sort((a, b) => a[0] - b[0]));
    for (const [page, key] of clocked.key) expect(key).toBe(clocked.policy.priority(page, stats));
    expect(clocked.order()).toEqual(absolute.order());
    expect(clocked.policy.agentsInPlay).toBe(absolute.policy.agentsInPlay);
  };
  let pending = false;
  for (const op of ops) {
    switch (op.kind) {
      case 'tag':
        for (const cache of both) cache.policy.tag(op.page, `a${op.agent}`);
        if (!tags.has(op.page)) tags.set(op.page, new Set());
        tags.get(op.page)!.add(op.agent);
        break;
      case 'forget':
        for (const cache of both) {
          cache.leave(op.page);
          cache.policy.forget(op.page);
        }
        tags.delete(op.page);
        break;
      case 'enter':
        for (const cache of both) cache.enter(op.page);
        break;
      case 'leave':
        for (const cache of both) cache.leave(op.page);
        break;
      case 'evict': {
        const victim = clocked.evict();
        expect(absolute.evict()).toBe(victim);
        tags.delete(victim);
        break;
      }
      case 'rel': {
        const key = `a${op.agent}`;
        if (op.value === null) {
          log.noteRelative(key, clocks[op.clock]!, NaN);
          truth[op.agent] = { kind: 'unknown' };
          log.noteValue(key, undefined);
        } else {
          log.noteRelative(key, clocks[op.clock]!, op.value);
          truth[op.agent] = { kind: 'rel', clock: op.clock, value: op.value };
          log.noteValue(key, steOf(op.agent));
        }
        pending = true;
        break;
      }
      case 'move': {
        const clock = clocks[op.clock]!;
        clock.value += op.by;
        log.noteMove(clock);
        for (let agent = 0; agent < AGENTS; agent++) {
          const t = truth[agent]!;
          if (t.kind === 'rel' && t.clock === op.clock) log.noteValue(`a${agent}`, steOf(agent));
        }
        pending = true;
        break;
      }
      case 'take':
        take();
        pending = false;
        break;
      case 'abs': {
        // Absolute values come between takes: what the log holds goes first.
        take();
        pending = false;
        const value = op.value ?? undefined;
        for (const cache of both) cache.policy.setSte(`a${op.agent}`, value);
        truth[op.agent] = value === undefined ? { kind: 'unknown' } : { kind: 'abs', value };
        told[op.agent] = value ?? NaN;
        break;
      }
      case 'all': {
        take();
        pending = false;
        const values = new Map(op.values.map(([agent, value]) => [`a${agent}`, value]));
        for (const cache of both) cache.policy.setAll(values);
        for (let agent = 0; agent < AGENTS; agent++) {
          const value = values.get(`a${agent}`);
          // setAll leaves unknown agents that were never interned alone; either way they are unknown.
          truth[agent] = value === undefined ? { kind: 'unknown' } : { kind: 'abs', value };
          told[agent] = value ?? NaN;
        }
        break;
      }
    }
    check(pending);
  }
  take();
  check(false);
}

describe('StePolicy: clocked STE against the same values as absolute ones', () => {
  it('gives every page the same STE, the cache the same priorities, and evicts the same victims in the same order', () => {
    fc.assert(
      fc.property(fc.array(opArbitrary, { maxLength: 80 }), (ops) => compare(ops)),
      { numRuns: runs(400), seed: SEED },
    );
  });

  it('a clock that moves re-keys the candidate pages of every agent relative to it, and only their values change', () => {
    compare([
      { kind: 'tag', page: 1, agent: 0 },
      { kind: 'tag', page: 2, agent: 1 },
      { kind: 'tag', page: 3, agent: 2 },
      { kind: 'enter', page: 1 },
      { kind: 'enter', page: 2 },
      { kind: 'enter', page: 3 },
      { kind: 'rel', agent: 0, clock: 0, value: 4 },
      { kind: 'rel', agent: 1, clock: 0, value: 2 },
      { kind: 'rel', agent: 2, clock: 1, value: 3 },
      { kind: 'take' },
      { kind: 'move', clock: 0, by: 3 },
      { kind: 'take' },
      { kind: 'move', clock: 1, by: -1 },
      { kind: 'move', clock: 0, by: 1 },
      { kind: 'take' },
      { kind: 'evict' },
      { kind: 'evict' },
    ]);
  });

  it('an agent changing clock, leaving for an absolute or unknown value, and an emptied clock coming back', () => {
    compare([
      { kind: 'tag', page: 1, agent: 0 },
      { kind: 'tag', page: 2, agent: 1 },
      { kind: 'tag', page: 2, agent: 0 },
      { kind: 'enter', page: 1 },
      { kind: 'enter', page: 2 },
      { kind: 'move', clock: 0, by: 2 },
      { kind: 'rel', agent: 0, clock: 0, value: 5 },
      { kind: 'rel', agent: 1, clock: 0, value: 6 },
      { kind: 'take' },
      { kind: 'rel', agent: 0, clock: 1, value: 1 },
      { kind: 'move', clock: 0, by: 1 },
      { kind: 'take' },
      { kind: 'abs', agent: 1, value: 0 },
      { kind: 'move', clock: 0, by: 1 },
      { kind: 'take' },
      { kind: 'rel', agent: 1, clock: 0, value: 9 },
      { kind: 'take' },
      { kind: 'rel', agent: 0, clock: 1, value: null },
      { kind: 'move', clock: 0, by: 2 },
      { kind: 'take' },
      { kind: 'evict' },
      { kind: 'evict' },
    ]);
  });

  it('an unknown value for an agent the policy does not hold changes nothing, and the next new agent is held as usual', () => {
    compare([
      { kind: 'rel', agent: 0, clock: 0, value: null },
      { kind: 'take' },
      { kind: 'tag', page: 1, agent: 1 },
      { kind: 'enter', page: 1 },
      { kind: 'rel', agent: 1, clock: 0, value: 2 },
      { kind: 'take' },
    ]);
  });

  it('an unknown value for an agent with an absolute value (in no clock group)', () => {
    compare([
      { kind: 'tag', page: 1, agent: 0 },
      { kind: 'abs', agent: 0, value: 3 },
      { kind: 'rel', agent: 0, clock: 0, value: null },
      { kind: 'take' },
      { kind: 'rel', agent: 0, clock: 0, value: 1 },
      { kind: 'take' },
    ]);
  });

  it('an agent that moves to another clock leaves its old group: the old group\'s later changes keep the new group whole', () => {
    compare([
      { kind: 'tag', page: 1, agent: 2 },
      { kind: 'enter', page: 1 },
      // Clock 0's group: a1, a0; clock 1's: a2.
      { kind: 'rel', agent: 1, clock: 0, value: 1 },
      { kind: 'rel', agent: 0, clock: 0, value: 2 },
      { kind: 'take' },
      { kind: 'rel', agent: 2, clock: 1, value: 3 },
      { kind: 'take' },
      // a0 moves to clock 1 (behind a2), then a1 and a0 take absolute values.
      { kind: 'rel', agent: 0, clock: 1, value: 4 },
      { kind: 'take' },
      { kind: 'abs', agent: 1, value: 0 },
      { kind: 'abs', agent: 0, value: 0 },
      // Clock 1 moves: a2's page is re-keyed.
      { kind: 'move', clock: 1, by: 1 },
      { kind: 'take' },
    ]);
  });

  it('agents leaving two groups one after the other keep the rest of each group: a clock move re-keys every member left', () => {
    compare([
      // a0 is the first agent held; clock 0's group: a0, a2 (a2 tags page 1); clock 1's: a1, a3.
      { kind: 'rel', agent: 0, clock: 0, value: 5 },
      { kind: 'take' },
      { kind: 'tag', page: 1, agent: 2 },
      { kind: 'enter', page: 1 },
      { kind: 'rel', agent: 2, clock: 0, value: 3 },
      { kind: 'rel', agent: 1, clock: 1, value: 1 },
      { kind: 'rel', agent: 3, clock: 1, value: 2 },
      { kind: 'take' },
      // The second of clock 1's group leaves, then the first of clock 0's.
      { kind: 'abs', agent: 3, value: 0 },
      { kind: 'abs', agent: 0, value: 0 },
      { kind: 'move', clock: 0, by: 2 },
      { kind: 'take' },
    ]);
  });

  it('a group freed and reused for another clock takes that clock and its value', () => {
    compare([
      { kind: 'tag', page: 1, agent: 1 },
      { kind: 'enter', page: 1 },
      { kind: 'move', clock: 0, by: 3 },
      { kind: 'rel', agent: 0, clock: 0, value: 5 },
      { kind: 'take' },
      // Clock 0's group empties (a0 takes an absolute value) and is freed; clock 1's takes its place.
      { kind: 'abs', agent: 0, value: 0 },
      { kind: 'rel', agent: 1, clock: 1, value: 1 },
      { kind: 'take' },
      // Clock 0 comes back (value 3): a group of its own, clock 1's keeps its value.
      { kind: 'rel', agent: 3, clock: 0, value: 2 },
      { kind: 'take' },
      // Clock 1's group empties too; clock 2's reuses it, and clock 1 comes back with a group of its own.
      { kind: 'tag', page: 2, agent: 2 },
      { kind: 'enter', page: 2 },
      { kind: 'abs', agent: 1, value: 4 },
      { kind: 'move', clock: 2, by: 1 },
      { kind: 'rel', agent: 2, clock: 2, value: 6 },
      { kind: 'take' },
      { kind: 'move', clock: 1, by: 2 },
      { kind: 'rel', agent: 1, clock: 1, value: 7 },
      { kind: 'take' },
      { kind: 'move', clock: 2, by: 1 },
      { kind: 'take' },
    ]);
  });
});

describe('StePolicy.notePrompt, exact', () => {
  const prompt = (fixedBlocks: number): PolicyPrompt => ({ id: 'r', blockSize: 16, inputLength: 160, fixedBlocks });

  it('interns no agent for a range with no fixed-prompt page', () => {
    const policy = new StePolicy();
    policy.notePrompt(prompt(2), 'a', [1, 2, 3], 2, 3);
    policy.notePrompt(prompt(2), 'b', [1, 2, 3], 3, 3);
    expect(policy.agentsInPlay).toBe(0);
    policy.notePrompt(prompt(2), 'a', [1, 2, 3], 1, 3);
    expect(policy.agentsInPlay).toBe(1);
  });
});

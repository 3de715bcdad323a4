import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EventQueue, type Timed } from '../../src/sim/event-queue.js';
import { Link } from '../../src/sim/link.js';
import { runs } from '../helpers/runs.js';

describe('EventQueue', () => {
  it('fires in (time, scheduling order), closures and woken targets alike, events scheduled while firing included', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 20 }), fc.boolean(), fc.integer({ min: -1, max: 5 })), { minLength: 1, maxLength: 300 }),
        (plan) => {
          const events = new EventQueue();
          const fired: number[] = [];
          const expected: { time: number; seq: number; id: number }[] = [];
          let seq = 0;
          const schedule = (id: number, time: number, asTarget: boolean) => {
            expected.push({ time, seq: seq++, id });
            if (asTarget) events.wake(time, target, id);
            else events.at(time, () => target.onTime(id));
          };
          // Some events schedule a follow-up `delay` after their own time when they fire.
          const target: Timed = {
            onTime(id) {
              fired.push(id);
              const delay = id < plan.length ? plan[id]![2] : -1;
              if (delay >= 0) schedule(plan.length + id, events.now + delay, id % 2 === 0);
            },
          };
          plan.forEach(([time, asTarget], id) => schedule(id, time, asTarget));
          expect(events.run()).toBe(true);
          expected.sort((a, b) => a.time - b.time || a.seq - b.seq);
          expect(fired).toEqual(expected.map((event) => event.id));
          expect(events.fired).toBe(expected.length);
          expect(events.pending).toBe(0);
        },
      ),
      { seed: 14, numRuns: runs(200) },
    );
  });

  it('keeps that order when targets wake themselves and others while firing (the fired root is reused)', () => {
    // Each firing wakes up to three events: its own target again (which reuses the heap's root), other
    // targets, or closures, at delays of 0 to 3 (ties are common); the run is stopped and resumed at limits.
    const wakeArb = fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: -1, max: 3 }), fc.integer({ min: 0, max: 3 }));
    fc.assert(
      fc.property(
        fc.array(fc.array(wakeArb, { maxLength: 3 }), { minLength: 1, maxLength: 200 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: 3 })), { minLength: 1, maxLength: 12 }),
        fc.integer({ min: 1, max: 50 }),
        (plans, initial, chunk) => {
          const events = new EventQueue();
          const fired: number[] = [];
          const expected: { time: number; seq: number; id: number }[] = [];
          const pendingSeen: [number, number][] = [];
          let seq = 0;
          let ids = 0;
          const targets: Timed[] = [];
          const fire = (id: number, target: number) => {
            fired.push(id);
            pendingSeen.push([events.pending, expected.length - fired.length]);
            for (const [delay, to, kind] of id < plans.length ? plans[id]! : []) {
              const wakeTarget = to < 0 ? target : to;
              schedule(events.now + delay, wakeTarget, kind !== 0);
            }
          };
          for (let t = 0; t < 4; t++) targets.push({ onTime: (id) => fire(id, t) });
          const schedule = (time: number, target: number, asTarget: boolean) => {
            const id = ids++;
            expected.push({ time, seq: seq++, id });
            if (asTarget) events.wake(time, targets[target]!, id);
            else events.at(time, () => fire(id, target));
          };
          initial.forEach(([time, target]) => schedule(time, target, true));
          let limit = 0;
          do limit += chunk;
          while (!events.run(limit));
          expected.sort((a, b) => a.time - b.time || a.seq - b.seq);
          expect(fired).toEqual(expected.map((event) => event.id));
          for (const [pending, unfired] of pendingSeen) expect(pending).toBe(unfired);
          expect(events.pending).toBe(0);
        },
      ),
      { seed: 1414, numRuns: runs(200) },
    );
  });

  it('stretches fire like the self-wakes they stand for, at every tie (cuts, settles, stretches meeting stretches)', () => {
    // The same plan is played twice: once with stretchers waking themselves at every time of their chain
    // (the elided wakes fire and only wake again), once with the chain given to the queue as a stretch.
    // Every other firing (closures, plain targets, a chain's last wake or one that was settled) is logged
    // with its time, and both logs must match. Times are multiples of 1/2 from small steps: ties are common.
    const stepArb = fc.constantFrom(0.5, 1, 1.5);
    const firingArb = fc.record({
      pushes: fc.array(fc.tuple(fc.integer({ min: 0, max: 6 }), fc.integer({ min: -1, max: 1 })), { maxLength: 3 }),
      pokes: fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.boolean()), { maxLength: 2 }),
      steps: fc.array(stepArb, { minLength: 1, maxLength: 8 }),
    });
    type Firing = typeof firingArb extends fc.Arbitrary<infer T> ? T : never;
    const play = (plans: Firing[], starts: number[], folded: boolean): string[] => {
      const events = new EventQueue();
      const log: string[] = [];
      let played = 0;
      interface Stretcher extends Timed {
        times: Float64Array | undefined;
        /** Index in `times` of the wake that comes next, as the unfolded world counts. */
        at: number;
        settled: boolean;
      }
      const stretchers: Stretcher[] = [];
      const plain: Timed[] = [0, 1].map((p) => ({ onTime: (tag) => observe(`p${p}.${tag}`) }));
      const startChain = (s: number, steps: number[]) => {
        const stretcher = stretchers[s]!;
        if (stretcher.times) return;
        const times = new Float64Array(steps.length);
        let t = events.now;
        steps.forEach((step, i) => (times[i] = t += step));
        stretcher.times = times;
        stretcher.at = 0;
        stretcher.settled = false;
        if (folded) events.stretch(stretcher, times, times.length);
        else events.wake(times[0]!, stretcher, 0);
      };
      const observe = (label: string) => {
        log.push(`${label}@${events.now}`);
        const plan = plans[played++];
        if (!plan) return;
        for (const [delay, to] of plan.pushes) {
          if (to < 0) events.at(events.now + delay / 2, () => observe(`c${delay}`));
          else events.wake(events.now + delay / 2, plain[to]!, delay);
        }
        for (const [s, settle] of plan.pokes) {
          const stretcher = stretchers[s]!;
          if (!settle) startChain(s, plan.steps);
          else if (stretcher.times && !stretcher.settled) {
            stretcher.settled = true;
            // The stretch's wake moves to the time in flight; its tag says how many times it skipped.
            if (folded) events.settle(stretcher);
          }
        }
      };
      for (let s = 0; s < 3; s++) {
        stretchers.push({
          times: undefined,
          at: 0,
          settled: false,
          onTime(tag) {
            const times = this.times!;
            // Folded, a wake says how many of the stretch's times it skipped; unfolded, each time fires.
            if (folded) this.at += tag;
            if (this.settled || this.at === times.length - 1) {
              this.times = undefined;
              observe(`s${s}.${this.at}`);
              return;
            }
            this.at++;
            // Folded, this wake ended the stretch early (the queue met a tie): the rest is a stretch again.
            if (folded) events.stretch(this, times.subarray(this.at), times.length - this.at);
            else events.wake(times[this.at]!, this, 0);
          },
        });
      }
      starts.forEach((time, i) => events.at(time / 2, () => (i < 3 ? startChain(i, [0.5, 1, 0.5, 1, 1.5]) : observe(`start${i}`))));
      expect(events.run()).toBe(true);
      expect(events.pending).toBe(0);
      return log;
    };
    fc.assert(
      fc.property(fc.array(firingArb, { maxLength: 120 }), fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 6 }), (plans, starts) => {
        expect(play(plans, starts, true)).toEqual(play(plans, starts, false));
      }),
      { seed: 1414, numRuns: runs(300) },
    );
  });

  it('orders two stretches whose wakes meet by the elided wakes before them, not by when they started', () => {
    // A starts at 0 (1.5, 2.5, 3.5), B at 0.5 (1, 2.5, 3.5). Self-waking, B's 2.5 is scheduled at 1, before
    // A's (at 1.5), so B's 2.5 fires first, schedules its 3.5 first, and B ends first.
    for (const folded of [true, false]) {
      const events = new EventQueue();
      const ended: string[] = [];
      const chain = (name: string, times: number[]): Timed => {
        let at = 0;
        const target: Timed = {
          onTime(tag) {
            at += folded ? tag : 0;
            if (at === times.length - 1) return void ended.push(`${name}@${events.now}`);
            at++;
            if (folded) events.stretch(target, Float64Array.from(times.slice(at)), times.length - at);
            else events.wake(times[at]!, target, 0);
          },
        };
        if (folded) events.stretch(target, Float64Array.from(times), times.length);
        else events.wake(times[0]!, target, 0);
        return target;
      };
      events.at(0, () => chain('A', [1.5, 2.5, 3.5]));
      events.at(0.5, () => chain('B', [1, 2.5, 3.5]));
      events.run();
      expect(ended).toEqual(['B@3.5', 'A@3.5']);
    }
  });

  it('reuses no root after a target threw: the next run goes on with the rest', () => {
    const events = new EventQueue();
    const order: string[] = [];
    let throwOnce = true;
    const target: Timed = {
      onTime(tag) {
        order.push(`t${tag}`);
        if (throwOnce) {
          throwOnce = false;
          throw new Error('boom');
        }
      },
    };
    events.wake(1, target, 1);
    events.wake(2, target, 2);
    events.at(3, () => order.push('c3'));
    expect(() => events.run()).toThrow('boom');
    expect(events.pending).toBe(2);
    expect(events.run()).toBe(true);
    expect(order).toEqual(['t1', 't2', 'c3']);
  });

  it('rejects an event in the past and stops at the limit', () => {
    const events = new EventQueue();
    events.at(2, () => {});
    events.at(5, () => {});
    expect(events.run(1)).toBe(false);
    expect(events.now).toBe(2);
    expect(() => events.at(1, () => {})).toThrow(/before now/);
    expect(events.run()).toBe(true);
    expect(events.now).toBe(5);
  });
});

describe('Link', () => {
  it('lands transfers in issue order, each after its bytes and latency, several in flight', () => {
    const events = new EventQueue();
    const link = new Link(events, { bandwidth: 100, latency: 0.5, concurrency: 2 });
    const landed: [string, number][] = [];
    for (const [name, bytes] of [['a', 100], ['b', 50], ['c', 0], ['d', 200]] as const) {
      link.submit({ bytes, onDone: () => landed.push([name, events.now]) });
    }
    expect(link.pending).toBe(4);
    events.run();
    // a: wire 0..1, lands 1.5; b: wire 1..1.5, lands 2; c issued at 1.5 (wire free at 1.5), lands 2;
    // d issued at 2 when b lands: wire 2..4, lands 4.5.
    expect(landed).toEqual([['a', 1.5], ['b', 2], ['c', 2], ['d', 4.5]]);
    expect(link.pending).toBe(0);
    expect(link.busySeconds).toBe(3.5);
  });
});


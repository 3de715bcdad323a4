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

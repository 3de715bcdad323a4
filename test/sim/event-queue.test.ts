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

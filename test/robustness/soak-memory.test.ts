/**
 * The soak's memory verdict (bench/robustness/soak-memory.ts): a flat post-GC heap with realistic noise
 * passes, any leak of a Map entry's size per request fails, a heap still settling before the warm-up's
 * end passes, and a series too noisy to tell fails rather than passing for lack of evidence.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fitLine, judgeHeap, LEAK_LIMIT_BYTES_PER_REQUEST, tQuantile975, type HeapSample } from '../../bench/robustness/soak-memory.js';

const MB = 2 ** 20;

/** A 10-minute soak as sampled: every 15 s, 40 requests a second, a heap of 38 MB plus `extra(minute)` MB and noise. */
function series(noise: readonly number[], extra: (minute: number, requests: number) => number): HeapSample[] {
  return noise.map((n, i) => {
    const minute = (i + 1) / 4;
    const requests = Math.round(minute * 60 * 40);
    return { minute, requests, heapUsedMb: 38 + extra(minute, requests) + n };
  });
}

/** 40 samples of uniform noise with standard deviation `std` MB. */
const noiseOf = (std: number) => fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: 40, maxLength: 40 }).map((u) => u.map((x) => x * std * Math.sqrt(3)));

describe('soak memory verdict', () => {
  it('passes a flat heap whose samples scatter as the gateway measured (0.2 MB standard deviation)', () => {
    fc.assert(
      fc.property(noiseOf(0.2), (noise) => {
        const verdict = judgeHeap(series(noise, () => 0), { fromMinute: 2 });
        expect(verdict.judged).toBe(true);
        expect(verdict.samples).toBe(33);
        expect(verdict.withinLimit, JSON.stringify(verdict)).toBe(true);
      }),
    );
  });

  it('fails any leak of twice the limit per request, whatever the noise draws', () => {
    fc.assert(
      fc.property(noiseOf(0.2), fc.integer({ min: 2 * LEAK_LIMIT_BYTES_PER_REQUEST, max: 4096 }), (noise, bytes) => {
        const verdict = judgeHeap(series(noise, (_, requests) => (requests * bytes) / MB), { fromMinute: 2 });
        expect(verdict.withinLimit, JSON.stringify(verdict)).toBe(false);
        expect(verdict.bytesPerRequest).toBeGreaterThan(LEAK_LIMIT_BYTES_PER_REQUEST);
      }),
    );
  });

  it('passes a heap that settles before the warm-up ends, and would fail it judged from the start', () => {
    // As measured: 5 MB more over the first minute or two (compiled code, 500 instances, caches filling), then flat.
    const settling = (minute: number) => 5 * (1 - Math.exp(-minute / 0.5));
    const noise = Array.from({ length: 40 }, (_, i) => 0.1 * Math.sin(i * 2.1));
    expect(judgeHeap(series(noise, settling), { fromMinute: 2 }).withinLimit).toBe(true);
    expect(judgeHeap(series(noise, settling), { fromMinute: 0 }).withinLimit).toBe(false);
  });

  it('fails a series too noisy to rule out a leak, even when none is there', () => {
    // No trend, samples 5 MB either side of it (a run whose GCs were not full, say): the slope is about 0,
    // but a leak of hundreds of bytes per request would hide in that scatter.
    const noise = Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? 5 : -5));
    const verdict = judgeHeap(series(noise, () => 0), { fromMinute: 2 });
    expect(verdict.judged).toBe(true);
    expect(Math.abs(verdict.bytesPerRequest)).toBeLessThan(LEAK_LIMIT_BYTES_PER_REQUEST);
    expect(verdict.bytesPerRequestUpper).toBeGreaterThan(LEAK_LIMIT_BYTES_PER_REQUEST);
    expect(verdict.withinLimit).toBe(false);
  });

  it('judges nothing from fewer than three samples or no requests', () => {
    const two = series([0, 0, 0], () => 0).slice(0, 2);
    expect(judgeHeap(two, { fromMinute: 0 })).toMatchObject({ judged: false, withinLimit: false, samples: 2 });
    const idle = [1, 2, 3, 4].map((minute) => ({ minute, requests: 100, heapUsedMb: 38 }));
    expect(judgeHeap(idle, { fromMinute: 0 })).toMatchObject({ judged: false, withinLimit: false });
  });

  it('fits lines and t quantiles as the tables give them', () => {
    const fit = fitLine([0, 1, 2, 3, 4].map((x) => ({ x, y: 2 * x + 1 + (x % 2 === 0 ? 0.5 : -0.5) })));
    expect(fit.slope).toBeCloseTo(2, 10);
    expect(fit.residualStd).toBeGreaterThan(0);
    for (const [df, table] of [
      [4, 2.776],
      [10, 2.228],
      [30, 2.042],
      [100, 1.984],
    ] as const) {
      expect(Math.abs(tQuantile975(df) - table) / table).toBeLessThan(0.02);
    }
  });
});

/**
 * Whether the soak's gateway leaks: its JS heap right after a full garbage collection (what its state
 * still holds alive), sampled by soak-memory-probe.mjs, against the requests it has received.
 *
 * RSS is not judged: V8 keeps reserved heap pages and malloc keeps freed memory, so RSS rises for a
 * while with nothing leaking (a gateway whose post-GC heap stayed at 37-38 MB from minute 2 to minute 20
 * saw its reserved heap go from 74 to 80 MB and its RSS from 155 to 166 MB over the first ten). Buffers
 * and other memory outside the heap (`external`) swing by a megabyte with the requests in flight at the
 * sample; a leaked buffer still leaves its JS object on the heap. Both are reported beside the verdict.
 *
 * A leak grows with the work, so the heap is fitted against the requests received (bytes per request),
 * from the end of a warm-up on (first faults run code not yet compiled). The verdict is honest about
 * noise: it passes only when the upper end of the slope's 95% confidence interval is under the limit, so
 * a noisy run fails as inconclusive rather than passing because its noise hides a drift.
 */

export interface HeapSample {
  /** Minutes since the load began. */
  minute: number;
  /** HTTP requests the gateway had received by then. */
  requests: number;
  /** `process.memoryUsage().heapUsed` after a full GC, in MB. */
  heapUsedMb: number;
}

export interface HeapJudgement {
  /** False when fewer than 3 samples (or no requests) fall after the warm-up: nothing can be said. */
  judged: boolean;
  fromMinute: number;
  samples: number;
  requests: number;
  heapMbFirst: number;
  heapMbLast: number;
  /** Least-squares growth of the post-GC heap per request received, in bytes. */
  bytesPerRequest: number;
  /** Upper end of its 95% confidence interval. */
  bytesPerRequestUpper: number;
  /** Twice the standard deviation of the samples around the fitted line, in MB. */
  noiseMb: number;
  limitBytesPerRequest: number;
  withinLimit: boolean;
}

/** Most post-GC heap growth per request that counts as no leak: a Map entry with a short string key costs more. */
export const LEAK_LIMIT_BYTES_PER_REQUEST = 64;

const MB = 2 ** 20;

export interface LineFit {
  slope: number;
  /** Standard deviation of the residuals (n - 2 degrees of freedom). */
  residualStd: number;
  /** Standard error of the slope. */
  slopeStdError: number;
}

/** Least-squares line through the points (slope 0 and no spread with fewer than 3 points or one x). */
export function fitLine(points: readonly { x: number; y: number }[]): LineFit {
  const n = points.length;
  if (n < 3) return { slope: 0, residualStd: 0, slopeStdError: Infinity };
  const meanX = points.reduce((s, p) => s + p.x, 0) / n;
  const meanY = points.reduce((s, p) => s + p.y, 0) / n;
  const sxx = points.reduce((s, p) => s + (p.x - meanX) ** 2, 0);
  if (sxx === 0) return { slope: 0, residualStd: 0, slopeStdError: Infinity };
  const slope = points.reduce((s, p) => s + (p.x - meanX) * (p.y - meanY), 0) / sxx;
  const residual = points.reduce((s, p) => s + (p.y - meanY - slope * (p.x - meanX)) ** 2, 0);
  const residualStd = Math.sqrt(residual / (n - 2));
  return { slope, residualStd, slopeStdError: residualStd / Math.sqrt(sxx) };
}

/** Student's t at 97.5% for `df` degrees of freedom (a series in 1/df: within 2% of the table from df 4, a little low below). */
export function tQuantile975(df: number): number {
  return df <= 0 ? Infinity : 1.96 + 2.37 / df + 2.8 / df ** 2;
}

/** The verdict on the samples from `fromMinute` on. */
export function judgeHeap(samples: readonly HeapSample[], options: { fromMinute: number; limitBytesPerRequest?: number }): HeapJudgement {
  const limit = options.limitBytesPerRequest ?? LEAK_LIMIT_BYTES_PER_REQUEST;
  const judged = samples.filter((s) => s.minute >= options.fromMinute);
  const fit = fitLine(judged.map((s) => ({ x: s.requests, y: s.heapUsedMb * MB })));
  const requests = judged.length > 0 ? judged.at(-1)!.requests - judged[0]!.requests : 0;
  const enough = judged.length >= 3 && Number.isFinite(fit.slopeStdError);
  const upper = fit.slope + tQuantile975(judged.length - 2) * fit.slopeStdError;
  return {
    judged: enough,
    fromMinute: options.fromMinute,
    samples: judged.length,
    requests,
    heapMbFirst: judged[0]?.heapUsedMb ?? 0,
    heapMbLast: judged.at(-1)?.heapUsedMb ?? 0,
    bytesPerRequest: enough ? fit.slope : 0,
    bytesPerRequestUpper: enough ? upper : 0,
    noiseMb: (2 * fit.residualStd) / MB,
    limitBytesPerRequest: limit,
    withinLimit: enough && upper <= limit,
  };
}

/** Least-squares slope per minute of one series (for the figures reported beside the verdict). */
export function slopePerMinute(points: readonly { minute: number; value: number }[]): number {
  return fitLine(points.map((p) => ({ x: p.minute, y: p.value }))).slope;
}

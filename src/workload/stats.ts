/**
 * What a trace offers a prefix cache before any policy runs: sizes, distinct pages, the reuse ceiling
 * (the hit rate at unbounded capacity, the same number `kvflow replay --capacity inf` gives for every
 * policy), how far apart reuses are, and the same per session. `kvflow trace stats` prints it.
 */
import { prefixTokens, replayOrder } from './request-order.js';
import type { Trace, TraceFormat, TraceRequest } from '../types.js';
import { PrefixInterner } from '../prefix-interner.js';

/** The document `kvflow trace stats --json` prints. Field names are the JSON contract. */
export interface TraceStatsReport {
  path: string;
  format: TraceFormat;
  /** Invalid lines skipped under `--skip-invalid` (0 without it). */
  skippedLines: number;
  requests: number;
  /** Requests with an empty prompt (zero input tokens): real calls, counted so they are not a surprise. */
  emptyPrompts: number;
  /** Distinct `workflow` ids; requests without one belong to no session. */
  sessions: number;
  /** Tokens per block, `null` when requests differ. */
  blockSize: number | null;
  inputTokens: number;
  outputTokens: number;
  /** Page references: the sum over requests of their block counts. */
  pages: number;
  /** Distinct pages: distinct block-id paths from the root (DESIGN.md section 4). */
  distinctPages: number;
  /** Prompt tokens an unbounded cache hits, replaying in `kvflow replay`'s order. */
  hitTokens: number;
  /** hitTokens / inputTokens: the best hit rate any policy can reach on this trace. */
  reuseCeiling: number;
  reuseDistance: ReuseDistanceHistogram;
  /** Every session, most requests first (ties in order of first appearance). */
  sessionSummaries: SessionSummary[];
}

/**
 * Reuse distance of a page reference: requests from the previous reference to the same page to this
 * one (1 = the request just before), in replay order. Bucket k holds distances 2^k .. 2^(k+1) - 1.
 */
export interface ReuseDistanceHistogram {
  /** References to a page never seen before (as many as distinct pages). */
  firstUses: number;
  /** From distance 1 up to the last non-empty bucket, empty ones in between included. */
  buckets: { min: number; max: number; count: number }[];
}

export interface SessionSummary {
  session: string;
  requests: number;
  inputTokens: number;
  outputTokens: number;
  pages: number;
  /** Of this session's prompt tokens, those an unbounded cache shared by the whole trace hits. */
  hitTokens: number;
  hitRate: number;
}

/** Statistics of a whole trace, in one pass over its requests in replay order. */
export function traceStats(trace: Trace): TraceStatsReport {
  const requests = replayOrder(trace.requests);
  const pagePaths = new PrefixInterner(1 << 16); // a page is its path from the root: page ids are prefix ids
  const distances = new ReuseDistances();
  const sessions = new Map<string, SessionSummary>();
  let pageIds = new Int32Array(256);
  let inputTokens = 0;
  let outputTokens = 0;
  let pages = 0;
  let hitTokens = 0;

  requests.forEach((request, r) => {
    if (pageIds.length < request.blocks.length) pageIds = new Int32Array(request.blocks.length * 2);
    const known = pagePaths.internPath(request.blocks, pageIds);
    distances.record(pageIds, request.blocks.length, r);
    const hit = prefixTokens(request, known);
    inputTokens += request.inputLength;
    outputTokens += request.outputLength;
    pages += request.blocks.length;
    hitTokens += hit;
    if (request.workflow !== undefined) addToSession(sessions, request, hit);
  });

  const sessionSummaries = [...sessions.values()];
  for (const summary of sessionSummaries) summary.hitRate = ratio(summary.hitTokens, summary.inputTokens);
  sessionSummaries.sort((a, b) => b.requests - a.requests); // stable: ties keep first-appearance order

  return {
    path: trace.path,
    format: trace.format,
    skippedLines: trace.skipped,
    requests: requests.length,
    emptyPrompts: requests.filter((request) => request.inputLength === 0).length,
    sessions: sessions.size,
    blockSize: commonBlockSize(requests),
    inputTokens,
    outputTokens,
    pages,
    distinctPages: pagePaths.size - 1,
    hitTokens,
    reuseCeiling: ratio(hitTokens, inputTokens),
    reuseDistance: distances.histogram(pagePaths.size - 1),
    sessionSummaries,
  };
}

function addToSession(sessions: Map<string, SessionSummary>, request: TraceRequest, hit: number): void {
  const session = request.workflow!;
  let summary = sessions.get(session);
  if (summary === undefined) {
    summary = { session, requests: 0, inputTokens: 0, outputTokens: 0, pages: 0, hitTokens: 0, hitRate: 0 };
    sessions.set(session, summary);
  }
  summary.requests++;
  summary.inputTokens += request.inputLength;
  summary.outputTokens += request.outputLength;
  summary.pages += request.blocks.length;
  summary.hitTokens += hit;
}

/** Counts reuse distances in log2 buckets, keeping each page's last request in a typed array. */
class ReuseDistances {
  private lastUse = new Int32Array(1 << 16).fill(-1);
  private readonly counts: number[] = [];

  /** Records request `r`'s references to the pages `pageIds[0, count)`. */
  record(pageIds: Int32Array, count: number, r: number): void {
    for (let i = 0; i < count; i++) {
      const page = pageIds[i]!;
      if (page >= this.lastUse.length) this.grow(page);
      const last = this.lastUse[page]!;
      if (last >= 0) {
        const bucket = 31 - Math.clz32(r - last); // floor(log2(distance)), distance >= 1
        this.counts[bucket] = (this.counts[bucket] ?? 0) + 1;
      }
      this.lastUse[page] = r;
    }
  }

  histogram(firstUses: number): ReuseDistanceHistogram {
    const buckets = Array.from({ length: this.counts.length }, (_, k) => ({
      min: 2 ** k,
      max: 2 ** (k + 1) - 1,
      count: this.counts[k] ?? 0,
    }));
    return { firstUses, buckets };
  }

  private grow(page: number): void {
    let size = this.lastUse.length * 2;
    while (size <= page) size *= 2;
    const grown = new Int32Array(size).fill(-1);
    grown.set(this.lastUse);
    this.lastUse = grown;
  }
}

function commonBlockSize(requests: readonly TraceRequest[]): number | null {
  const first = requests[0]?.blockSize;
  if (first === undefined) return null;
  return requests.every((request) => request.blockSize === first) ? first : null;
}

function ratio(part: number, whole: number): number {
  return whole > 0 ? part / whole : 0;
}

/**
 * Gateway benchmark (issues 6 and 14), loopback only and bounded in time:
 * 1. Overhead as paired samples: the same open-loop load (small chat requests) sent in short alternating
 *    windows straight to an engine and through a `kvflow gateway` in front of it. The engine answers every
 *    request after a fixed, known service time (FIXED_SERVICE_MS; a measuring instrument, so that engine
 *    time does not vary between the two paths). Each pair of adjacent windows gives one sample of the added
 *    median and p99 latency (gateway window minus direct window, in alternating order); the figures are the
 *    median of those samples with their spread (min to max) over the pairs, at 200 and 1,000 requests/s;
 *    beside it the p99 of all gateway windows' requests pooled minus that of all direct ones (a 0.5-s
 *    window's p99 is its 5th slowest request, so one pause moves it), and the same pairs sent direct on
 *    both sides as the method's noise floor. Engine and gateway share a worker
 *    thread, the load generator has the main one: its connections stay open across windows, its request
 *    bodies are built before a window starts, and its own GC pauses, CPU and lateness are reported, since
 *    on a 2-core machine they are part of what the slowest requests measure. Beside the latencies,
 *    what they are made of on a 2-core machine shared with the load generator: the server thread's CPU per
 *    request (gateway windows minus direct windows, from /proc/thread-self/schedstat, which a loaded
 *    machine disturbs far less than latency), its garbage-collection pauses in the gateway windows and how
 *    many of the slowest 1% of requests overlapped one, the time the thread waited for a core, and its event-loop
 *    delay; and where the slowest 1% of gateway requests spent their time, from stamps the gateway and the engine
 *    take for each request (an x-bench-id header): reaching the gateway, the gateway until the engine has the
 *    request, the engine, the relay back, the way back to the client.
 *    Beside them, a reference proxy (node:http + undici, forwarding only) in rounds with the direct path and the
 *    gateway: what any Node proxy adds on this machine, so that what kvflow itself adds reads as the difference.
 *    The instrument keeps out of what it measures: the load generator empties its young generation before each
 *    window (no scavenge of its own inside one) and the servers' per-request stamps go to preallocated arrays.
 *    The 1,000 req/s figures again with the threads pinned (load generator on core 0, engine and gateway on
 *    core 1, with taskset): what scheduling on the shared cores adds. The unpinned figures stay the ones the
 *    target is read against; both are printed.
 * 2. Routing decision (tinybench): choosing among 8 upstreams for a 4k-token prompt whose shadow trees
 *    hold similar prompts; also the per-request work around it (hashing, memoized tokenization, lease).
 * 3. `--redis` against the default: the same paired windows, one gateway keeping its state in memory and
 *    one in a local redis-server.
 * Targets: added p99 < 0.5 ms at 1,000 req/s; a routing decision < 20 us.
 */
import { StePolicy } from '../src/cache/ste-policy.js';
import { Worker } from 'node:worker_threads';
import { execFileSync, spawn } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { PerformanceObserver } from 'node:perf_hooks';
import { Bench } from 'tinybench';
import { Pool } from 'undici';
import { PromptTokenizer } from '../src/serve/http/prompt-tokens.js';
import { loadPresetTokenizer } from '../src/workload/model-tokenizer.js';
import { loadTokenizer, TOKENIZER_NAME } from '../src/workload/tokenize.js';
import { PrefixIndex } from '../src/serve/gateway/prefix-index.js';
import { shadowQuery } from '../src/serve/gateway/proxy.js';
import { CacheAwareRouting } from '../src/sim/cache-aware-routing.js';
import { FILLER_WORDS } from '../src/serve/http/synthetic-text.js';
import { Upstream } from '../src/serve/gateway/upstream.js';
import { hashTokenBlocks, nativeHashInUse } from '../src/native.js';
import { percentile } from '../src/sim/metrics.js';
import { median } from './measure.js';
import type { BenchLine } from './replay.js';

const MODEL = 'Llama-3.1-8B';
/** The engine's service time for every request. */
const FIXED_SERVICE_MS = 1;
/** Requests per second, each with its window length: about 200-500 requests per window. */
const LOADS: [rate: number, windowSeconds: number][] = [[200, 1], [1000, 0.5]];
const PAIRS = 8;
/** The gateway's default shadow capacity: 1M tokens in 16-token pages. */
const SHADOW_SLOTS = 2 ** 16;

export async function benchGateway(): Promise<BenchLine[]> {
  return [
    ...(await overheadLines(LOADS)),
    // The same gateway with a larger young generation (node's --max-semi-space-size=32, which NODE_OPTIONS
    // may carry: docs/gateway.md): scavenges come half as often. A worker takes it as its young-generation
    // limit, which V8 sizes at three semi-spaces.
    ...(await overheadLines([[1000, 0.5]], { youngGenerationMb: 3 * 32, label: ', --max-semi-space-size=32' })),
    // Pinned: scheduling on the shared cores taken out (as far as pinning two threads can); reported beside the
    // unpinned figures above, never instead of them.
    ...(await overheadLines([[1000, 0.5]], { pin: true, label: ', pinned (load generator core 0, servers core 1)' })),
    ...(await redisOverheadLines()),
    ...(await routingLines()),
  ];
}

// ---------------------------------------------------------------------------------------------------
// 1. Added latency, paired windows

async function overheadLines(
  loads: readonly [rate: number, windowSeconds: number][],
  options: { youngGenerationMb?: number; label?: string; pin?: boolean } = {},
): Promise<BenchLine[]> {
  const label = options.label ?? '';
  if (options.pin && !canPin()) return [{ name: `gateway added latency${label}`, value: 'skipped: taskset is not available or this machine has fewer than 2 cores' }];
  const servers = await startServersThread(undefined, options.youngGenerationMb);
  let unpin: (() => void) | undefined;
  if (options.pin) {
    try {
      if (servers.tid === undefined) throw new Error('the server thread id is unknown (not Linux)');
      unpin = pinThreads(servers.tid);
    } catch (error) {
      // Cores 0 and 1 outside this process's cpuset, or no thread id: say so, measure nothing pinned.
      await servers.close();
      return [{ name: `gateway added latency${label}`, value: `skipped: could not pin the threads (${(error as Error).message.split('\n')[0]})` }];
    }
  }
  const load = new LoadGenerator();
  const lines: BenchLine[] = [];
  try {
    await load.run(servers.engine, 1000, 0.5); // warm up both paths (JIT, connections)
    await load.run(servers.gateway, 1000, 0.5);
    for (const [rate, windowSeconds] of loads) {
      const addedP50: number[] = [];
      const addedP99: number[] = [];
      const direct: { p50: number[]; p99: number[]; all: number[] } = { p50: [], p99: [], all: [] };
      const all: number[] = [];
      const cpu: { direct: number[]; gateway: number[]; generator: number[] } = { direct: [], gateway: [], generator: [] };
      const gateway: WindowMakeup[] = [];
      let errors = 0;
      let requests = 0;
      const late: { p99: number[]; max: number } = { p99: [], max: 0 };
      for (let pair = 0; pair < PAIRS; pair++) {
        // Alternate which path goes first, so a drift in load does not favour one of them.
        const order = pair % 2 === 0 ? [servers.engine, servers.gateway] : [servers.gateway, servers.engine];
        await servers.stats(); // opens the window's counters
        const first = await load.run(order[0]!, rate, windowSeconds);
        const firstStats = await servers.stats();
        const second = await load.run(order[1]!, rate, windowSeconds);
        const secondStats = await servers.stats();
        const [d, g] = pair % 2 === 0 ? [first, second] : [second, first];
        const [dStats, gStats] = pair % 2 === 0 ? [firstStats, secondStats] : [secondStats, firstStats];
        errors += d.errors + g.errors;
        requests += d.latencies.length + g.latencies.length;
        late.p99.push(d.lateP99Ms, g.lateP99Ms);
        late.max = Math.max(late.max, d.lateMaxMs, g.lateMaxMs);
        direct.all.push(...d.latencies);
        all.push(...g.latencies);
        const ds = Float64Array.from(d.latencies).sort();
        const gs = Float64Array.from(g.latencies).sort();
        direct.p50.push(percentile(ds, 0.5));
        direct.p99.push(percentile(ds, 0.99));
        addedP50.push(percentile(gs, 0.5) - percentile(ds, 0.5));
        addedP99.push(percentile(gs, 0.99) - percentile(ds, 0.99));
        if (dStats.cpuMs !== undefined && gStats.cpuMs !== undefined) {
          cpu.direct.push((dStats.cpuMs * 1000) / Math.max(1, d.latencies.length));
          cpu.gateway.push((gStats.cpuMs * 1000) / Math.max(1, g.latencies.length));
        }
        if (g.cpuMs !== undefined) cpu.generator.push((g.cpuMs * 1000) / Math.max(1, g.latencies.length));
        gateway.push(windowMakeup(g, gStats, percentile(gs, 0.99)));
      }
      const spread = (xs: number[]) => `${us(Math.min(...xs))} to ${us(Math.max(...xs))}`;
      const pooled = (xs: number[]) => percentile(Float64Array.from(xs).sort(), 0.99);
      const baseline = `direct to the engine: p50 ${us(median(direct.p50))}, p99 ${us(median(direct.p99))} (service time ${FIXED_SERVICE_MS} ms)`;
      lines.push({
        name: `gateway added p50 @ ${rate}/s${label}`,
        value: `${us(median(addedP50))} (over ${PAIRS} window pairs: ${spread(addedP50)}; ${requests} requests, ${errors} errors)`,
        baseline,
      });
      lines.push({
        name: `gateway added p99 @ ${rate}/s${label}`,
        value:
          `${us(median(addedP99))} (median over ${PAIRS} window pairs: ${spread(addedP99)}; ` +
          `all ${PAIRS} windows of each path pooled: ${us(pooled(all) - pooled(direct.all))})`,
        ...(rate === 1000 && label === '' && { target: '< 0.5 ms' }),
        baseline,
      });
      if (cpu.gateway.length > 0) {
        lines.push({
          name: `gateway added CPU per request @ ${rate}/s${label}`,
          value: `${(median(cpu.gateway) - median(cpu.direct)).toFixed(0)} us (server thread, median of ${PAIRS} gateway windows minus median of the direct ones)`,
          baseline: `direct to the engine: ${median(cpu.direct).toFixed(0)} us of the same thread's CPU per request`,
        });
      }
      const slow = gateway.reduce((sum, w) => sum + w.slow, 0);
      const slowInGc = gateway.reduce((sum, w) => sum + w.slowInGc, 0);
      const slowInGeneratorGc = gateway.reduce((sum, w) => sum + w.slowInGeneratorGc, 0);
      lines.push({
        name: `gateway windows @ ${rate}/s, what p99 is made of${label}`,
        value:
          `server-thread GC pauses: ${((1000 * gateway.reduce((sum, w) => sum + w.gcPauses, 0)) / Math.max(1, all.length)).toFixed(2)} per 1,000 gateway requests, ` +
          `${median(gateway.map((w) => w.gcMs)).toFixed(1)} ms per window (median), longest ${Math.max(...gateway.map((w) => w.gcMaxMs)).toFixed(1)} ms; ` +
          `of the ${slow} slowest-1% requests ${slowInGc} overlapped a server-thread GC pause and ${slowInGeneratorGc} one of the load generator` +
          (gateway[0]!.waitMs === undefined ? '' : `; the server thread waited ${median(gateway.map((w) => w.waitMs!)).toFixed(0)} ms per ${windowSeconds}-s window for a core`) +
          `; its event-loop delay p99 ${median(gateway.map((w) => w.loopDelayP99Ms)).toFixed(2)} ms (median over the windows), at most ${Math.max(...gateway.map((w) => w.loopDelayMaxMs)).toFixed(1)} ms`,
      });
      const slowSplit = gateway.flatMap((w) => w.slowSegments);
      const allSplit = gateway.flatMap((w) => w.segments);
      if (slowSplit.length > 0) {
        const parts = (rows: number[][]) => SEGMENTS.map((name, k) => `${name} ${us(median(rows.map((row) => row[k]!)))}`).join(', ');
        lines.push({
          name: `gateway windows @ ${rate}/s, where the slowest 1% spent their time${label}`,
          value: `median over ${slowSplit.length} requests: ${parts(slowSplit)}`,
          baseline: `all ${allSplit.length} gateway requests: ${parts(allSplit)}`,
        });
      }
      lines.push({
        name: `gateway bench load generator @ ${rate}/s${label}`,
        value:
          (cpu.generator.length > 0 ? `${median(cpu.generator).toFixed(0)} us CPU per request on the same 2 cores; ` : '') +
          `sends behind their schedule: p99 ${median(late.p99).toFixed(2)} ms (median over the windows), at most ${late.max.toFixed(1)} ms (open loop: a late send is timed from when it left)`,
      });
      if (label === '') lines.push(await noiseFloorLine(servers.engine, load, rate, windowSeconds), await referenceProxyLine(servers, load, rate, windowSeconds));
    }
    return lines;
  } finally {
    unpin?.();
    await load.close();
    await servers.close();
  }
}

/** Whether `taskset` can pin threads here (Linux with it installed, 2 cores or more). */
function canPin(): boolean {
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
    return availableParallelism() >= 2;
  } catch {
    return false;
  }
}

/** Pins this (the load generator's) thread to core 0 and the server thread to core 1; returns the undo (this thread's affinity as it was). */
function pinThreads(serverTid: number): () => void {
  const set = (cores: string, tid: number) => execFileSync('taskset', ['-pc', cores, String(tid)], { stdio: 'ignore' });
  const before = /:\s*(\S+)\s*$/.exec(execFileSync('taskset', ['-pc', String(process.pid)], { encoding: 'utf8' }))?.[1] ?? `0-${availableParallelism() - 1}`;
  set('1', serverTid);
  set('0', process.pid);
  return () => set(before, process.pid);
}

/**
 * The method's own noise: the same pairs of windows with both sides sent straight to the engine. What
 * this "added" p99 shows is the machine and the load generator, not a gateway.
 */
async function noiseFloorLine(engine: string, load: LoadGenerator, rate: number, windowSeconds: number): Promise<BenchLine> {
  const differences: number[] = [];
  const sides: [number[], number[]] = [[], []];
  for (let pair = 0; pair < PAIRS; pair++) {
    const first = await load.run(engine, rate, windowSeconds);
    const second = await load.run(engine, rate, windowSeconds);
    sides[0].push(...first.latencies);
    sides[1].push(...second.latencies);
    differences.push(percentile(Float64Array.from(second.latencies).sort(), 0.99) - percentile(Float64Array.from(first.latencies).sort(), 0.99));
  }
  const pooled = (xs: number[]) => percentile(Float64Array.from(xs).sort(), 0.99);
  return {
    name: `gateway bench noise floor @ ${rate}/s`,
    value:
      `direct minus direct p99: ${us(median(differences))} (median over ${PAIRS} window pairs: ${us(Math.min(...differences))} to ${us(Math.max(...differences))}; ` +
      `pooled: ${us(pooled(sides[1]) - pooled(sides[0]))}): an added p99 within this spread is not the gateway's`,
  };
}

/**
 * What forwarding alone adds on this machine: a reference proxy (node:http server and undici pool, the body
 * read and parsed, the answer relayed; no routing, tokenizing or state) on the same thread as the gateway, in
 * rounds of three windows with the direct path and the gateway (order reversed every other round). The
 * gateway's figures from the same rounds stand beside it: the difference is what kvflow itself adds.
 */
async function referenceProxyLine(servers: ServersThread, load: LoadGenerator, rate: number, windowSeconds: number): Promise<BenchLine> {
  const paths = { direct: servers.engine, gateway: servers.gateway, reference: servers.reference };
  const added = { gateway: { p50: [] as number[], p99: [] as number[], cpu: [] as number[] }, reference: { p50: [] as number[], p99: [] as number[], cpu: [] as number[] } };
  let errors = 0;
  for (let round = 0; round < PAIRS; round++) {
    const order = (['direct', 'gateway', 'reference'] as const).slice();
    if (round % 2 === 1) order.reverse();
    await servers.stats();
    const seen = {} as Record<keyof typeof paths, { sorted: Float64Array; cpuUs: number | undefined }>;
    for (const path of order) {
      const window = await load.run(paths[path], rate, windowSeconds);
      const stats = await servers.stats();
      errors += window.errors;
      seen[path] = {
        sorted: Float64Array.from(window.latencies).sort(),
        cpuUs: stats.cpuMs === undefined ? undefined : (stats.cpuMs * 1000) / Math.max(1, window.latencies.length),
      };
    }
    for (const path of ['gateway', 'reference'] as const) {
      added[path].p50.push(percentile(seen[path].sorted, 0.5) - percentile(seen.direct.sorted, 0.5));
      added[path].p99.push(percentile(seen[path].sorted, 0.99) - percentile(seen.direct.sorted, 0.99));
      if (seen[path].cpuUs !== undefined && seen.direct.cpuUs !== undefined) added[path].cpu.push(seen[path].cpuUs! - seen.direct.cpuUs!);
    }
  }
  const figures = (xs: { p50: number[]; p99: number[]; cpu: number[] }) =>
    `added p50 ${us(median(xs.p50))}, p99 ${us(median(xs.p99))} (over ${PAIRS} rounds: ${us(Math.min(...xs.p99))} to ${us(Math.max(...xs.p99))})` +
    (xs.cpu.length > 0 ? `, CPU ${median(xs.cpu).toFixed(0)} us per request` : '');
  return {
    name: `gateway bench reference proxy @ ${rate}/s`,
    value: `node:http + undici, forwarding only: ${figures(added.reference)}; ${errors} errors`,
    baseline: `kvflow gateway in the same rounds: ${figures(added.gateway)}`,
  };
}

/**
 * `--redis` against the default: the same load sent in alternating windows to a gateway keeping its state
 * in memory and to one keeping it in a local redis-server (started here, persistence off), both in front
 * of the same engine. Each pair of windows gives one sample of the added median and p99, and one ratio of
 * medians; the figures are the medians over the pairs. Skipped (one line saying so) without redis-server.
 */
async function redisOverheadLines(): Promise<BenchLine[]> {
  const redis = await startRedisServer();
  if (!redis) return [{ name: 'gateway --redis added latency', value: 'skipped: redis-server is not installed' }];
  const servers = await startServersThread(redis.url);
  const load = new LoadGenerator();
  try {
    const shared = servers.gatewayRedis!;
    await load.run(servers.gateway, 1000, 0.5);
    await load.run(shared, 1000, 0.5);
    const lines: BenchLine[] = [];
    for (const [rate, windowSeconds] of LOADS) {
      const added: { p50: number[]; p99: number[]; ratio: number[] } = { p50: [], p99: [], ratio: [] };
      const local: number[] = [];
      let errors = 0;
      for (let pair = 0; pair < PAIRS; pair++) {
        const order = pair % 2 === 0 ? [servers.gateway, shared] : [shared, servers.gateway];
        const first = await load.run(order[0]!, rate, windowSeconds);
        const second = await load.run(order[1]!, rate, windowSeconds);
        const [m, r] = pair % 2 === 0 ? [first, second] : [second, first];
        errors += m.errors + r.errors;
        const ms = Float64Array.from(m.latencies).sort();
        const rs = Float64Array.from(r.latencies).sort();
        local.push(percentile(ms, 0.5));
        added.p50.push(percentile(rs, 0.5) - percentile(ms, 0.5));
        added.p99.push(percentile(rs, 0.99) - percentile(ms, 0.99));
        added.ratio.push(percentile(rs, 0.5) / percentile(ms, 0.5));
      }
      const spread = (xs: number[]) => `${us(Math.min(...xs))} to ${us(Math.max(...xs))}`;
      const baseline = `gateway with its state in memory: p50 ${us(median(local))} (engine service time ${FIXED_SERVICE_MS} ms)`;
      lines.push({
        name: `gateway --redis added p50 @ ${rate}/s`,
        value: `${us(median(added.p50))}, p50 ratio ${median(added.ratio).toFixed(2)}x (over ${PAIRS} window pairs: ${spread(added.p50)}; ${errors} errors)`,
        baseline,
      });
      lines.push({ name: `gateway --redis added p99 @ ${rate}/s`, value: `${us(median(added.p99))} (over ${PAIRS} window pairs: ${spread(added.p99)})`, baseline });
    }
    return lines;
  } finally {
    await load.close();
    await servers.close();
    await redis.stop();
  }
}

/** A redis-server on a free loopback port without persistence, or undefined when it is not installed. */
async function startRedisServer(): Promise<{ url: string; stop(): Promise<void> } | undefined> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const ready = await new Promise<boolean>((resolve) => {
    let out = '';
    child.once('error', () => resolve(false));
    child.once('exit', () => resolve(false));
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      if (out.includes('Ready to accept connections')) resolve(true);
    });
  });
  if (!ready) return undefined;
  return {
    url: `redis://127.0.0.1:${port}`,
    stop: async () => {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

function us(ms: number): string {
  return `${(ms * 1000).toFixed(0)} us`;
}

/** One gateway window's GC pauses and waits on the server thread, and the slowest requests they hit. */
interface WindowMakeup {
  gcPauses: number;
  gcMs: number;
  gcMaxMs: number;
  /** Requests at or above the window's p99, and how many of them overlapped a GC pause of the server thread, or of the load generator's. */
  slow: number;
  slowInGc: number;
  slowInGeneratorGc: number;
  waitMs: number | undefined;
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
  /** The slowest 1% of the window's requests, each split into SEGMENTS (ms). */
  slowSegments: number[][];
  /** Every request of the window, split the same way. */
  segments: number[][];
}

/** The parts of a gateway request's latency, from the servers' stamps. */
const SEGMENTS = ['to the gateway', 'gateway until the engine has it', 'engine', 'relay back', 'back to the client'] as const;

function windowMakeup(window: LoadWindow, stats: ThreadStats, p99: number): WindowMakeup {
  let slow = 0;
  let slowInGc = 0;
  let slowInGeneratorGc = 0;
  const overlaps = (pauses: readonly [number, number][], sent: number, latency: number) =>
    pauses.some(([start, duration]) => start < sent + latency && start + duration > sent);
  const engine = new Map<number, [number, number]>();
  const gateway = new Map<number, [number, number]>();
  for (const [server, id, received, finished] of stats.stamps) (server === 'e' ? engine : gateway).set(id, [received, finished]);
  const slowSegments: number[][] = [];
  const segments: number[][] = [];
  window.latencies.forEach((latency, i) => {
    const sent = performance.timeOrigin + window.sentAt[i]!;
    const e = engine.get(window.ids[i]!);
    const g = gateway.get(window.ids[i]!);
    // 'finish' fires once the last bytes are handed to the kernel, which can be after the client read them: the
    // last segment can come out slightly negative.
    const split = e && g ? [g[0] - sent, e[0] - g[0], e[1] - e[0], g[1] - e[1], sent + latency - g[1]] : undefined;
    if (split) segments.push(split);
    if (latency < p99) return;
    slow++;
    if (split) slowSegments.push(split);
    if (overlaps(stats.gcs, sent, latency)) slowInGc++;
    if (overlaps(window.gcs, sent, latency)) slowInGeneratorGc++;
  });
  return {
    gcPauses: stats.gcs.length,
    gcMs: stats.gcs.reduce((sum, [, duration]) => sum + duration, 0),
    gcMaxMs: Math.max(0, ...stats.gcs.map(([, duration]) => duration)),
    slow,
    slowInGc,
    slowInGeneratorGc,
    waitMs: stats.waitMs,
    loopDelayP99Ms: stats.loopDelayP99Ms,
    loopDelayMaxMs: stats.loopDelayMaxMs,
    slowSegments,
    segments,
  };
}

/** One window of load: each answered request's latency in ms and when it was sent, and what the generator itself did. */
interface LoadWindow {
  latencies: number[];
  sentAt: number[];
  /** Each answered request's x-bench-id. */
  ids: number[];
  errors: number;
  /** How long after its scheduled time a request left, in ms: p99 and the most. */
  lateP99Ms: number;
  lateMaxMs: number;
  /** The load generator's GC pauses during the window, as [epoch ms, ms]. */
  gcs: [start: number, duration: number][];
  /** The load generator thread's CPU in the window (Linux). */
  cpuMs: number | undefined;
}

/**
 * The open-loop load (main thread): one connection pool per target kept across windows (a window does not
 * pay for new connections), the request bodies built before a window starts (the same ones for both paths
 * of a pair), and the generator's own GC pauses and CPU recorded, since it shares the two cores and its
 * pauses delay the responses it is timing just as the server's do.
 */
class LoadGenerator {
  readonly #pools = new Map<string, Pool>();
  #nextId = 0;
  readonly #gcs: [number, number][] = [];
  readonly #observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) this.#gcs.push([performance.timeOrigin + entry.startTime, entry.duration]);
  });

  constructor() {
    this.#observer.observe({ entryTypes: ['gc'] });
  }

  /** Sends requests at `rate` per second for `seconds` to `url`. */
  async run(url: string, rate: number, seconds: number): Promise<LoadWindow> {
    let pool = this.#pools.get(url);
    if (!pool) this.#pools.set(url, (pool = new Pool(url, { connections: 64 })));
    const total = Math.round(rate * seconds);
    const bodies = Array.from({ length: total }, (_, i) =>
      JSON.stringify({
        model: MODEL,
        max_tokens: 1,
        messages: [
          { role: 'system', content: `You are agent ${i % 8}. Answer briefly.` },
          { role: 'user', content: `Request ${i}: what next?` },
        ],
      }),
    );
    // Each request names itself (x-bench-id) so the servers' stamps can be matched to it.
    const firstId = this.#nextId;
    this.#nextId += total;
    const headers = Array.from({ length: total }, (_, i) => ({ 'content-type': 'application/json', 'x-kvflow-agent': `agent${i % 8}`, 'x-bench-id': String(firstId + i) }));
    const latencies: number[] = [];
    const sentAt: number[] = [];
    const ids: number[] = [];
    let errors = 0;
    const lateness = new Float64Array(total);
    const send = async (i: number, sent: number): Promise<void> => {
      try {
        const response = await pool.request({ method: 'POST', path: '/v1/chat/completions', headers: headers[i], body: bodies[i] });
        await response.body.dump();
        if (response.statusCode === 200) {
          latencies.push(performance.now() - sent);
          sentAt.push(sent);
          ids.push(firstId + i);
        } else errors++;
      } catch {
        errors++;
      }
    };
    // The generator's young generation emptied before the window (the bench runs with --expose-gc): its
    // scavenges would otherwise land inside windows and delay the responses it times, on either path.
    (globalThis as { gc?: (options: { type: 'minor' }) => void }).gc?.({ type: 'minor' });
    this.#gcs.length = 0;
    const cpuBefore = threadCpuMs();
    const started = performance.now();
    const inFlight: Promise<void>[] = [];
    for (let i = 0; i < total; i++) {
      const due = started + (i * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
      const sent = performance.now();
      lateness[i] = sent - due;
      inFlight.push(send(i, sent));
    }
    await Promise.all(inFlight);
    const cpuAfter = threadCpuMs();
    lateness.sort();
    return { latencies, sentAt, ids, errors, lateP99Ms: percentile(lateness, 0.99), lateMaxMs: lateness[total - 1] ?? 0, gcs: this.#gcs.splice(0), cpuMs: cpuBefore === undefined || cpuAfter === undefined ? undefined : cpuAfter - cpuBefore };
  }

  async close(): Promise<void> {
    this.#observer.disconnect();
    await Promise.all([...this.#pools.values()].map((pool) => pool.close()));
  }
}

/** This thread's CPU time in ms (Linux), undefined elsewhere. */
function threadCpuMs(): number | undefined {
  try {
    return Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]) / 1e6;
  } catch {
    return undefined;
  }
}

/** The server thread since the last `stats()`: CPU and run-queue wait (Linux), GC pauses as [epoch ms, ms]. */
interface ThreadStats {
  cpuMs: number | undefined;
  waitMs: number | undefined;
  gcs: [start: number, duration: number][];
  /** Event-loop delay (monitorEventLoopDelay, 1 ms resolution): p99 and the most, in ms. */
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
  /** Per request, by x-bench-id: when the engine and the gateway got it and finished it (epoch ms). */
  stamps: [server: 'e' | 'g', id: number, received: number, finished: number][];
}

interface ServersThread {
  engine: string;
  /** The server thread's Linux thread id (for taskset), when known. */
  tid: number | undefined;
  gateway: string;
  /** The same gateway with its state in Redis (when a Redis URL was given). */
  gatewayRedis?: string;
  /** A reference proxy in front of the same engine: node:http + undici, the body parsed, nothing else. */
  reference: string;
  stats(): Promise<ThreadStats>;
  close(): Promise<void>;
}

/**
 * Starts the fixed-service-time engine (node:http, answering each chat request after FIXED_SERVICE_MS),
 * a gateway in front of it (an `openai` upstream) and the reference proxy on one worker thread: with the
 * load generator on the main thread, two busy threads for two cores.
 */
async function startServersThread(redisUrl?: string, youngGenerationMb?: number): Promise<ServersThread> {
  const modules = {
    gateway: new URL('../src/serve/gateway/gateway-server.js', import.meta.url).href,
  };
  const source = `
    const { parentPort, workerData } = require('node:worker_threads');
    const http = require('node:http');
    const { readFileSync } = require('node:fs');
    const { PerformanceObserver, monitorEventLoopDelay } = require('node:perf_hooks');
    // This thread's CPU and run-queue wait in ns (Linux; synchronous reads run on this thread).
    const schedstat = () => {
      try { return readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ').map(Number); } catch { return undefined; }
    };
    let lastSched = schedstat();
    const gcs = [];
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) gcs.push([performance.timeOrigin + entry.startTime, entry.duration]);
    }).observe({ entryTypes: ['gc'] });
    const loopDelay = monitorEventLoopDelay({ resolution: 1 });
    loopDelay.enable();
    // Stamps go to preallocated arrays, not an object per request kept until the window ends: those would
    // survive scavenges and lengthen the very GC pauses this bench reports (the gateway keeps nothing of the kind).
    const STAMPS = 1 << 15;
    const stampGw = new Uint8Array(STAMPS), stampId = new Float64Array(STAMPS), stampIn = new Float64Array(STAMPS), stampOut = new Float64Array(STAMPS);
    let stampCount = 0;
    const stamp = (gateway, id, received, finished) => {
      if (stampCount === STAMPS) return;
      stampGw[stampCount] = gateway ? 1 : 0; stampId[stampCount] = id; stampIn[stampCount] = received; stampOut[stampCount] = finished;
      stampCount++;
    };
    const takeStamps = () => {
      const out = [];
      for (let i = 0; i < stampCount; i++) out.push([stampGw[i] ? 'g' : 'e', stampId[i], stampIn[i], stampOut[i]]);
      stampCount = 0;
      return out;
    };
    const epochNow = () => performance.timeOrigin + performance.now();
    // The gateway's stamps: from the request event (headers parsed) to its response's finish.
    const stampGateway = (server) => server.prependListener('request', (request, response) => {
      const id = request.headers['x-bench-id'];
      if (id === undefined) return;
      const received = epochNow();
      response.once('finish', () => stamp(true, Number(id), received, epochNow()));
    });
    (async () => {
      const { modules, model, serviceMs, redisUrl } = workerData;
      const { startGateway, GATEWAY_DEFAULTS } = await import(modules.gateway);
      const answer = JSON.stringify({
        id: 'chatcmpl-fixed', object: 'chat.completion', created: 0, model,
        choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'length' }],
        usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
      });
      const engineServer = http.createServer((request, response) => {
        const id = request.headers['x-bench-id'];
        const received = epochNow();
        request.resume();
        request.on('end', () => setTimeout(() => {
          response.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(answer) });
          response.end(answer);
          if (id !== undefined) stamp(false, Number(id), received, epochNow());
        }, serviceMs));
      });
      engineServer.keepAliveTimeout = 60_000;
      await new Promise((resolve) => engineServer.listen(0, '127.0.0.1', resolve));
      const engineUrl = 'http://127.0.0.1:' + engineServer.address().port;
      const gateway = await startGateway({ ...GATEWAY_DEFAULTS, upstreams: [{ url: engineUrl, kind: 'openai' }], models: [model] });
      const shared = redisUrl
        ? await startGateway({ ...GATEWAY_DEFAULTS, upstreams: [{ url: engineUrl, kind: 'openai' }], models: [model], redis: { url: redisUrl }, warn: () => {} })
        : undefined;
      stampGateway(gateway.app.server);
      if (shared) stampGateway(shared.app.server);
      // The reference proxy: forwarding alone (body read and parsed, undici to the engine, the answer relayed).
      const { Pool } = require(workerData.undici);
      const referencePool = new Pool(engineUrl, { connections: 256 });
      const referenceServer = http.createServer((request, response) => {
        const chunks = [];
        request.on('data', (chunk) => chunks.push(chunk));
        request.on('end', () => {
          const body = Buffer.concat(chunks);
          JSON.parse(body.toString('utf8'));
          referencePool.request({ method: 'POST', path: request.url, headers: { 'content-type': 'application/json' }, body }).then(
            async (upstream) => {
              const relayed = Buffer.from(await upstream.body.arrayBuffer());
              response.writeHead(upstream.statusCode, { 'content-type': 'application/json', 'content-length': relayed.length });
              response.end(relayed);
            },
            () => { response.writeHead(502); response.end(); },
          );
        });
      });
      referenceServer.keepAliveTimeout = 60_000;
      await new Promise((resolve) => referenceServer.listen(0, '127.0.0.1', resolve));
      const tid = (() => { try { return Number(require('node:fs').readlinkSync('/proc/thread-self').split('/').pop()); } catch { return undefined; } })();
      parentPort.postMessage({ engine: engineUrl, gateway: gateway.url, gatewayRedis: shared && shared.url, reference: 'http://127.0.0.1:' + referenceServer.address().port, tid });
      parentPort.on('message', async (message) => {
        if (message === 'stats') {
          const now = schedstat();
          const delta = (i) => (now && lastSched ? (now[i] - lastSched[i]) / 1e6 : undefined);
          parentPort.postMessage({ stats: { cpuMs: delta(0), waitMs: delta(1), gcs: gcs.splice(0), loopDelayP99Ms: loopDelay.percentile(99) / 1e6, loopDelayMaxMs: loopDelay.max / 1e6, stamps: takeStamps() } });
          loopDelay.reset();
          lastSched = now;
          return;
        }
        await gateway.close();
        if (shared) await shared.close();
        referenceServer.closeAllConnections();
        await new Promise((resolve) => referenceServer.close(resolve));
        await referencePool.close();
        engineServer.closeAllConnections();
        await new Promise((resolve) => engineServer.close(resolve));
        parentPort.postMessage({ closed: true });
      });
    })().catch((error) => parentPort.postMessage({ error: String((error && error.stack) || error) }));
  `;
  const worker = new Worker(source, {
    eval: true,
    workerData: { modules, model: MODEL, serviceMs: FIXED_SERVICE_MS, redisUrl, undici: createRequire(import.meta.url).resolve('undici') },
    ...(youngGenerationMb !== undefined && { resourceLimits: { maxYoungGenerationSizeMb: youngGenerationMb } }),
  });
  const first = await new Promise<{ engine?: string; gateway?: string; gatewayRedis?: string; reference?: string; tid?: number; error?: string }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  if (first.error || !first.engine || !first.gateway || !first.reference) {
    await worker.terminate();
    throw new Error(`server thread failed: ${first.error}`);
  }
  return {
    engine: first.engine,
    tid: first.tid,
    gateway: first.gateway,
    reference: first.reference,
    ...(first.gatewayRedis && { gatewayRedis: first.gatewayRedis }),
    stats: async () => {
      const answer = new Promise<{ stats: ThreadStats }>((resolve) => worker.once('message', resolve));
      worker.postMessage('stats');
      return (await answer).stats;
    },
    close: async () => {
      const closed = new Promise((resolve) => worker.once('message', resolve));
      worker.postMessage('close');
      await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 5_000))]);
      await worker.terminate();
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// 2. Routing decision for a 4k-token prompt over 8 upstreams

async function routingLines(): Promise<BenchLine[]> {
  const blockSize = 16;
  const tokenizer = await PromptTokenizer.create({ blockSize });
  // One token per word: a 3,840-token system prompt and a 256-token step input, 4,096 tokens and change.
  const words = (seed: number, count: number) => Array.from({ length: count }, (_, i) => ` ${FILLER_WORDS[(seed * 7919 + i * 104729) % FILLER_WORDS.length]}`).join('');
  const systemPrompt = `You are the planner.${words(1, 3840)}`;
  const messages = [
    { role: 'system', content: systemPrompt },
    { role: 'user', content: `Step 12.${words(2, 256)}` },
  ];
  const prompt = tokenizer.chat(messages);
  const tokens = new Int32Array(prompt.tokens).map((_, i) => (i * 2654435761) >>> 16);
  const prefixIndex = new PrefixIndex();
  const upstreams = Array.from(
    { length: 8 },
    (_, index) =>
      new Upstream({
        index,
        url: `http://127.0.0.1:${9 + index}`,
        kind: 'kvflow',
        timeouts: { connectMs: 1000, headersMs: 1000, bodyMs: 1000 },
        connections: 1,
        shadow: { slots: SHADOW_SLOTS, policy: new StePolicy(), blockSize: 16, onPage: (block, present) => prefixIndex.update(index, block, present) },
      }),
  );
  // Each shadow tree holds prompts sharing the system prompt with different suffixes (upstream 3 holds
  // this one's longest prefix), plus unrelated prompts; loads are balanced so the cache path runs.
  upstreams.forEach((upstream, index) => {
    for (let k = 0; k < 4; k++) {
      const other = tokenizer.chat([{ role: 'system', content: index === 3 ? systemPrompt : `${systemPrompt} v${index}` }, { role: 'user', content: `Step ${k}.${words(k + 10 * index, 256)}` }]);
      upstream.shadow.admit(other.blocks, other.blocks.length - 13, 'planner').release();
      const unrelated = tokenizer.chat([{ role: 'system', content: `Other agent ${index}-${k}.${words(100 + k, 3840)}` }]);
      upstream.shadow.admit(unrelated.blocks, unrelated.blocks.length, `other${k}`).release();
    }
    // Fill the tree to its capacity with other prompts, as a busy gateway's would be (tables out of cache).
    for (let k = 0; upstream.shadow.pages < SHADOW_SLOTS - 300; k++) {
      const blocks = Array.from({ length: 256 }, (_, b) => (index * 1_000_003 + k * 257 + b) * 7919);
      upstream.shadow.admit(blocks, 240, `filler${k % 50}`).release();
    }
    upstream.load = index % 3;
  });
  const routing = new CacheAwareRouting();
  const decision = routing.choose(upstreams, shadowQuery(upstreams, prompt.blocks, prefixIndex));
  const bench = new Bench({ time: 1500, warmupTime: 300 });
  bench.add('route 4k-token prompt over 8 upstreams', () => {
    routing.choose(upstreams, shadowQuery(upstreams, prompt.blocks, prefixIndex));
  });
  bench.add('route, tree by tree (no prefix index)', () => {
    routing.choose(upstreams, shadowQuery(upstreams, prompt.blocks, undefined));
  });
  bench.add(`chained hashes of 4k tokens (${nativeHashInUse() ? 'native' : 'TypeScript'})`, () => {
    hashTokenBlocks(tokens, blockSize);
  });
  bench.add('tokenize + hash 4k-token chat (memoized system)', () => {
    tokenizer.chat(messages);
  });
  // The served model's tokenizer beside cl100k_base: a whole 4k-token text, nothing memoized.
  const llama = await loadPresetTokenizer('Llama-3.1-8B');
  const cl100k = await loadTokenizer(TOKENIZER_NAME);
  const llamaPrompts = new PromptTokenizer(llama, { blockSize });
  const text = `${systemPrompt}${messages[1]!.content}`;
  bench.add(`tokenize 4k-token text, ${TOKENIZER_NAME}`, () => {
    cl100k.encode(text);
  });
  bench.add('tokenize 4k-token text, Llama-3.1-8B', () => {
    llama.encodePlain(text);
  });
  bench.add('template + tokenize + hash 4k-token chat, Llama-3.1-8B (memoized system)', () => {
    llamaPrompts.chat(messages);
  });
  bench.add('shadow admit + release (4k tokens)', () => {
    upstreams[decision.index]!.shadow.admit(prompt.blocks, 240, 'planner').release();
  });
  await bench.run();
  await Promise.all(upstreams.map((upstream) => upstream.close()));
  const lines: BenchLine[] = [];
  for (const task of bench.tasks) {
    const latency = task.result?.state === 'completed' ? task.result.latency : undefined;
    if (!latency) continue;
    const target = task.name.startsWith('route 4k') ? ` (target < 20 us; chose upstream ${decision.index} by ${decision.reason}, ${decision.matchedBlocks}/${prompt.blocks.length} pages)` : '';
    lines.push({ name: task.name, value: `${(latency.mean * 1000).toFixed(2)} us mean (p99 ${(latency.p99 * 1000).toFixed(2)} us)${target}` });
  }
  return lines;
}

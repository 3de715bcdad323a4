/**
 * A gateway and an engine, each its own `kvflow` process, under mixed load for a while with faults
 * injected, and an account of every request (bench/robustness/soak.ts runs it from the command line):
 * - load: steps of a registered three-agent workflow over 500 live instances (whole answers and streams),
 *   instances finished with DELETE, bad bodies;
 * - faults: the engine killed (SIGKILL) and restarted on its port while the load goes on, streams cut by
 *   the client after their first chunk, slow clients sending half a body and waiting for the 408;
 * - per minute: requests sent, answers, outcomes by kind, latency p50/p90/p99 of whole answers, RSS of
 *   both servers, the machine's load average;
 * - at the end: every request settled (none hanging), every outcome explained by the fault that caused
 *   it, locks back to zero on both servers, and no leak: the gateway's heap after a full GC, sampled
 *   by soak-memory-probe.mjs, does not grow with the requests (soak-memory.ts), RSS reported beside it.
 */
import { loadavg, tmpdir } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ServerProcesses, type Launch, type Server } from './soak-children.js';
import { judgeHeap, slopePerMinute, type HeapJudgement } from './soak-memory.js';

export interface SoakOptions {
  seconds: number;
  /** Requests started per second. */
  rate: number;
  /** The engine is killed this often (0: never). */
  killEverySeconds: number;
  /** The built CLI (dist/src/cli/main.js) and the directory to run it in. */
  cli: string;
  cwd: string;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
  /** Where the servers are kept, so a caller can stop them on a signal (default: a new set). */
  processes?: ServerProcesses;
  startTimeoutMs?: number;
  restartTimeoutMs?: number;
  clientTimeoutMs?: number;
  /** Load shedding of both servers (`--max-in-flight`, `--max-queued`, `--queue-timeout` ms); default: theirs. */
  admission?: { maxInFlight?: number; maxQueued?: number; queueTimeoutMs?: number };
  /** bench/robustness/soak-memory-probe.mjs, loaded into the gateway to sample its heap after a full GC (default: no heap samples, memory not judged). */
  memoryProbe?: string;
  /** Seconds between the probe's samples (each one a full GC of the gateway: a short pause). Default 15. */
  memorySampleSeconds?: number;
  /** Bytes the probe keeps per request the gateway receives: a planted leak, to check the verdict catches it. */
  plantLeakBytes?: number;
  /** Judge the heap from this many seconds into the load at the earliest (default: a fifth of the run). */
  memoryFromSeconds?: number;
}

/** Runs shorter than this may end without enough heap samples to judge; longer ones fail without them. */
const MEMORY_JUDGED_FROM_SECONDS = 120;

const MAX_UNEXPLAINED_EXAMPLES = 5;

/** How each outcome came about; `unexplained` outcomes are failures of the soak. */
export const OUTCOMES = {
  ok: 'a whole answer (JSON with choices, or a stream ending in [DONE])',
  'stream-cut-by-client': 'the client read the first chunk of a stream and cancelled it',
  'bad-body-400': 'a truncated JSON body, refused with 400',
  'slow-client-cut': 'half a body sent, then silence: the gateway answered 408 or closed the connection',
  'instance-finished': 'DELETE of a live instance: 204',
  'instance-not-live': 'DELETE of an instance not live (never begun, finished or dropped): 404',
  'engine-down': 'a 502/503/504 while the engine was killed, restarting, or not yet seen up by the gateway\'s health checks',
  'engine-out-of-routing': 'a 502 no_upstream outside a kill: the gateway\'s health checks had taken the engine out (two probes slower than --health-timeout)',
  'upstream-timeout-504': 'a 504 upstream_timeout outside a kill: the engine did not answer within the gateway\'s --timeout',
  shed: 'a 503 server_overloaded or queue_timeout with Retry-After: load shedding by the gateway or the engine (--max-in-flight, --max-queued, --queue-timeout)',
} as const;

export type Outcome = keyof typeof OUTCOMES | `unexplained-${string}`;

export interface MinuteReport {
  minute: number;
  sent: number;
  ok: number;
  outcomes: Record<string, number>;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  gatewayRssMb: number;
  /** The gateway's heap after a full GC (its last probe sample this minute; 0 without the probe). */
  gatewayHeapMb: number;
  engineRssMb: number;
  loadAverage: number;
  /**
   * The harness's own worst event-loop delay this minute: a starved harness reads answers and connections
   * late, and its deadlines (client timeout, slow-client give-up) may expire before it sees what arrived.
   */
  harnessLagMs: number;
}

export interface SoakReport {
  seconds: number;
  rate: number;
  sent: number;
  settled: number;
  hanging: number;
  /** Sends the harness skipped because it fell more than a second behind its schedule (a starved machine). */
  behindSchedule: number;
  outcomes: Record<string, number>;
  unexplained: number;
  /** The first few unexplained answers as received (status and the start of the body), to tell their cause. */
  unexplainedExamples: string[];
  engineKills: number;
  /** Times the gateway's health checks took the (running) engine out of routing by themselves, and for how long in all. */
  outOfRoutingOutsideKills: { times: number; seconds: number };
  /** CPU seconds used by each process over the soak (the engine's summed over its restarts), and the gateway's per request. */
  cpuSeconds: { gateway: number; engine: number; harness: number; gatewayMsPerRequest: number };
  /** Per kill: seconds until the new engine listened and until the gateway routed to it again. */
  outages: { listenSeconds: number; routedSeconds: number }[];
  locksAtEnd: { gatewayShadowLockedPages: number; engineRunning: number; enginePinnedPages: number; settledWithinSeconds: number };
  memory: SoakMemory;
  /** Seconds from a slow client's connect to the gateway cutting it (its --request-timeout is 10 s; a starved gateway reads the request late). */
  slowClientCutSeconds: { p50: number; p99: number; max: number };
  /** What the gateway itself counted (its /metrics): a cross-check of the client's tally. */
  gatewayCounted: { requestsByStatus: Record<string, number>; upstreamErrors: Record<string, number>; clientDisconnects: number };
  loadAverage: { min: number; max: number };
  perMinute: MinuteReport[];
  passed: boolean;
}

/** The gateway's memory over the judged minutes: the verdict on its post-GC heap, and beside it what is not judged. */
export interface SoakMemory {
  heap: HeapJudgement;
  /** No leak: the heap verdict passed, or the run was too short to judge. */
  noLeak: boolean;
  /** Not judged (soak-memory.ts says why), over the same minutes: MB and least-squares MB per minute. */
  rssMbFirst: number;
  rssMbLast: number;
  rssSlopeMbPerMinute: number;
  heapSlopeMbPerMinute: number;
  heapTotalMbFirst: number;
  heapTotalMbLast: number;
  externalMbFirst: number;
  externalMbLast: number;
  externalSlopeMbPerMinute: number;
  /** The longest of the probe's forced full GCs (the gateway pauses for it). */
  gcPauseMsMax: number;
}

interface ProbeSample {
  t: number;
  requests: number;
  gcMs: number;
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

/** The probe's samples so far (a line cut short by a kill at the end is skipped). */
function readProbe(file: string): ProbeSample[] {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text.split('\n').flatMap((line) => {
    try {
      return line ? [JSON.parse(line) as ProbeSample] : [];
    } catch {
      return [];
    }
  });
}

const MODEL = 'Llama-3.1-8B';
const AGENTS = ['planner', 'coder', 'tester'] as const;
const INSTANCES = 500;
const SPEC = {
  name: 'soak',
  agents: { planner: { fixed: 512, dynamic: 32, output: 8 }, coder: { fixed: 768, dynamic: 32, output: 8 }, tester: { fixed: 256, dynamic: 32, output: 8 } },
  edges: [
    { from: 'planner', to: 'coder' },
    { from: 'coder', to: 'tester' },
  ],
  start: 'planner',
  rounds: 1000,
  shareAgents: false,
};
const SAMPLE_EVERY_MS = 5_000;
/** A 5xx this long after the gateway saw the engine up again still counts as part of the outage. */
const OUTAGE_TAIL_MS = 2_000;
const SLOW_CLIENT_GIVE_UP_MS = 30_000;

/** A load-shedding answer (src/serve/http/load-shedding.ts), told by its error code. */
const isShed = (text: string) => /"code":"(server_overloaded|queue_timeout)"/.test(text);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function rssMb(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

/** User + system CPU seconds of a process so far (clock ticks of 1/100 s), 0 once it is gone. */
function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

function percentile(sorted: number[], q: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** GET with a deadline; undefined when the server does not answer in time. */
async function getJson<T>(url: string, timeoutMs = 10_000): Promise<T | undefined> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    return response.ok ? ((await response.json()) as T) : undefined;
  } catch {
    return undefined;
  }
}

async function getText(url: string, timeoutMs = 10_000): Promise<string> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    return response.ok ? await response.text() : '';
  } catch {
    return '';
  }
}

/** Sums a Prometheus counter's samples by one label. */
function counterBy(metrics: string, name: string, label: string): Record<string, number> {
  const sums: Record<string, number> = {};
  for (const line of metrics.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const key = new RegExp(`${label}="([^"]*)"`).exec(line)?.[1] ?? '';
    sums[key] = (sums[key] ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sums;
}

interface Outage {
  killedAt: number;
  listeningAt?: number;
  routedAt?: number;
}

export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const log = options.log ?? (() => {});
  const processes = options.processes ?? new ServerProcesses(options.cli, options.cwd);
  const startTimeoutMs = options.startTimeoutMs ?? 120_000;
  const restartTimeoutMs = options.restartTimeoutMs ?? 300_000;
  const clientTimeoutMs = options.clientTimeoutMs ?? 30_000;
  const memoryDir = options.memoryProbe === undefined ? undefined : mkdtempSync(join(tmpdir(), 'kvflow-soak-'));
  try {
    return await soak(options, processes, log, startTimeoutMs, restartTimeoutMs, clientTimeoutMs, memoryDir && join(memoryDir, 'gateway-memory.jsonl'));
  } finally {
    await processes.stopAll();
    if (memoryDir) rmSync(memoryDir, { recursive: true, force: true });
  }
}

async function soak(
  options: SoakOptions,
  processes: ServerProcesses,
  log: (line: string) => void,
  startTimeoutMs: number,
  restartTimeoutMs: number,
  clientTimeoutMs: number,
  memoryFile: string | undefined,
): Promise<SoakReport> {
  const { maxInFlight, maxQueued, queueTimeoutMs } = options.admission ?? {};
  const admissionArgs = [
    ...(maxInFlight !== undefined ? ['--max-in-flight', String(maxInFlight)] : []),
    ...(maxQueued !== undefined ? ['--max-queued', String(maxQueued)] : []),
    ...(queueTimeoutMs !== undefined ? ['--queue-timeout', String(queueTimeoutMs)] : []),
  ];
  const engineArgs = (port: string) => ['engine', '--port', port, '--speed', '50', ...admissionArgs];
  let engine: Server | undefined = await processes.start(engineArgs('0'), startTimeoutMs);
  const enginePort = new URL(engine.url).port;
  const probe: Launch =
    options.memoryProbe === undefined || memoryFile === undefined
      ? {}
      : {
          nodeArgs: ['--expose-gc', '--import', pathToFileURL(options.memoryProbe).href],
          env: {
            ...process.env,
            KVFLOW_SOAK_MEMORY_FILE: memoryFile,
            KVFLOW_SOAK_MEMORY_EVERY_MS: String(Math.round((options.memorySampleSeconds ?? 15) * 1000)),
            KVFLOW_SOAK_PLANT_LEAK_BYTES: String(options.plantLeakBytes ?? 0),
          },
        };
  const gateway = await processes.start(
    ['gateway', '--port', '0', '--upstream', engine.url, '--upstream-kind', 'kvflow', '--served-model', MODEL, '--timeout', '5000', '--health-interval', '1000', '--request-timeout', '10000', ...admissionArgs],
    startTimeoutMs,
    1,
    probe,
  );
  log(`gateway ${gateway.url} (pid ${gateway.child.pid}), engine ${engine.url} (pid ${engine.child.pid})`);
  const registered = await fetch(`${gateway.url}/v1/workflows`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(SPEC), signal: AbortSignal.timeout(startTimeoutMs) });
  if (registered.status !== 201) throw new Error(`registering the soak workflow: HTTP ${registered.status} ${await registered.text()}`);

  const began = performance.now();
  const beganEpochMs = Date.now();
  const stopAt = began + options.seconds * 1000;
  const minutes: (Omit<MinuteReport, 'p50Ms' | 'p90Ms' | 'p99Ms'> & { latencies: number[] })[] = [];
  const minuteOf = (t: number) => {
    const index = Math.floor((t - began) / 60_000);
    while (minutes.length <= index) minutes.push({ minute: minutes.length + 1, sent: 0, ok: 0, outcomes: {}, latencies: [], gatewayRssMb: 0, gatewayHeapMb: 0, engineRssMb: 0, loadAverage: 0, harnessLagMs: 0 });
    return minutes[index]!;
  };
  const outcomes: Record<string, number> = {};
  const slowClientCuts: number[] = [];
  const outages: Outage[] = [];
  let sent = 0;
  let settled = 0;
  let behindSchedule = 0;

  /** Whether [from, to] overlaps an engine outage (from the kill to a little after the gateway routed to it again). */
  const duringOutage = (from: number, to: number) => outages.some((o) => from <= (o.routedAt ?? Infinity) + OUTAGE_TAIL_MS && to >= o.killedAt);

  const settle = (sentAt: number, outcome: Outcome, latencyMs?: number) => {
    const minute = minuteOf(sentAt);
    minute.outcomes[outcome] = (minute.outcomes[outcome] ?? 0) + 1;
    outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    if (outcome === 'ok') {
      minute.ok++;
      if (latencyMs !== undefined) minute.latencies.push(latencyMs);
    }
    if (outcome === 'slow-client-cut' && latencyMs !== undefined) slowClientCuts.push(latencyMs / 1000);
    settled++;
  };

  /** Failures are told apart by the OpenAI-shaped error's code (src/serve/gateway/proxy.ts). */
  const unexplainedExamples: string[] = [];
  const statusOutcome = (status: number, text: string, t0: number): Outcome => {
    let code: string | undefined;
    try {
      code = (JSON.parse(text) as { error?: { code?: string } }).error?.code;
    } catch {
      code = undefined;
    }
    if (status === 503 && isShed(text)) return 'shed';
    if ([502, 503, 504].includes(status) && duringOutage(t0, performance.now())) return 'engine-down';
    if (status === 502 && code === 'no_upstream') return 'engine-out-of-routing';
    if (status === 504 && code === 'upstream_timeout') return 'upstream-timeout-504';
    if (unexplainedExamples.length < MAX_UNEXPLAINED_EXAMPLES) unexplainedExamples.push(`HTTP ${status}: ${text.slice(0, 300)}`);
    return `unexplained-http-${status}${code ? `-${code}` : ''}`;
  };

  async function completion(i: number, t0: number): Promise<Outcome> {
    const kind = i % 20;
    const agent = AGENTS[i % 3]!;
    const instance = `run-${Math.floor(i / 3) % INSTANCES}`;
    const stream = kind === 7 || kind === 8;
    const body =
      kind === 13
        ? `{"model": "${MODEL}", "messages": [`
        : JSON.stringify({
            model: MODEL,
            max_tokens: 8,
            stream,
            messages: [
              { role: 'system', content: `You are the ${agent}. ${'Follow the plan and report. '.repeat(60)}` },
              { role: 'user', content: `step ${i}` },
            ],
            agent_hints: { workflow_id: instance, agent_id: agent },
          });
    const response = await fetch(`${gateway.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(clientTimeoutMs) });
    if (kind === 13) {
      const text = await response.text();
      if (response.status === 503 && isShed(text)) return 'shed'; // shedding comes before the body is read
      return response.status === 400 ? 'bad-body-400' : `unexplained-bad-body-${response.status}`;
    }
    if (response.status !== 200) return statusOutcome(response.status, await response.text(), t0);
    if (kind === 8 && response.body) {
      const reader = response.body.getReader();
      await reader.read();
      await reader.cancel();
      return 'stream-cut-by-client';
    }
    const text = await response.text();
    if (stream) return text.trimEnd().endsWith('data: [DONE]') ? 'ok' : duringOutage(t0, performance.now()) ? 'engine-down' : 'unexplained-stream-without-done';
    try {
      return Array.isArray((JSON.parse(text) as { choices?: unknown }).choices) ? 'ok' : 'unexplained-answer-without-choices';
    } catch {
      return 'unexplained-partial-json';
    }
  }

  async function finishInstance(i: number): Promise<Outcome> {
    const response = await fetch(`${gateway.url}/v1/workflows/instances/run-${Math.floor(i / 3) % INSTANCES}`, { method: 'DELETE', signal: AbortSignal.timeout(clientTimeoutMs) });
    await response.text();
    return response.status === 204 ? 'instance-finished' : response.status === 404 ? 'instance-not-live' : `unexplained-delete-${response.status}`;
  }

  /** Headers and half a body, then silence: the gateway must cut it (408 or close) within its request timeout. */
  function slowClient(): Promise<Outcome> {
    const { hostname, port } = new URL(gateway.url);
    return new Promise((resolve) => {
      let answer = '';
      const socket = connect(Number(port), hostname, () =>
        socket.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{"model"`),
      );
      const giveUp = setTimeout(() => {
        socket.destroy();
        resolve('unexplained-slow-client-not-cut');
      }, SLOW_CLIENT_GIVE_UP_MS);
      socket.setEncoding('utf8').on('data', (chunk: string) => (answer += chunk));
      socket.on('close', () => {
        clearTimeout(giveUp);
        if (answer.startsWith('HTTP/1.1 503') && isShed(answer)) resolve('shed');
        else resolve(answer === '' || answer.startsWith('HTTP/1.1 408') ? 'slow-client-cut' : `unexplained-slow-client-${answer.slice(9, 12)}`);
      });
      socket.on('error', () => {});
    });
  }

  async function one(i: number): Promise<void> {
    const t0 = performance.now();
    minuteOf(t0).sent++;
    sent++;
    const kind = i % 20;
    try {
      const outcome = kind === 19 ? await slowClient() : kind === 17 ? await finishInstance(i) : await completion(i, t0);
      settle(t0, outcome, performance.now() - t0);
    } catch (error) {
      const name = (error as Error).name === 'TimeoutError' ? 'client-timeout' : `network-${((error as Error).cause as { code?: string } | undefined)?.code ?? (error as Error).name}`;
      settle(t0, `unexplained-${name}`);
    }
  }

  // CPU of every server process, read while it lives (a killed engine's last reading stays in the sum).
  const cpuOf = new Map<number, number>();
  const readCpu = (pid: number | undefined) => {
    const seconds = cpuSeconds(pid);
    if (pid !== undefined && seconds > 0) cpuOf.set(pid, seconds);
  };
  const harnessCpuAtStart = process.cpuUsage();

  // The gateway's own view of the engine, every second: when did it take a running engine out of routing?
  const outOfRouting = { times: 0, seconds: 0 };
  let outSince: number | undefined;
  let polling = false;
  const pollRouting = async () => {
    if (polling) return;
    polling = true;
    const state = await getJson<{ upstreams: { up: boolean }[] }>(`${gateway.url}/v1/gateway/state`, 5_000);
    polling = false;
    const now = performance.now();
    const down = state !== undefined && state.upstreams[0]?.up === false && !duringOutage(now, now);
    if (down && outSince === undefined) {
      outSince = now;
      outOfRouting.times++;
    } else if (!down && outSince !== undefined) {
      outOfRouting.seconds += (now - outSince) / 1000;
      outSince = undefined;
    }
  };
  const routingPoller = setInterval(() => void pollRouting(), 1_000).unref();

  // Samples RSS and load every few seconds; each minute keeps its last sample (and its worst harness lag).
  const samples: { minute: number; gatewayRssMb: number }[] = [];
  const lag = monitorEventLoopDelay({ resolution: 20 });
  lag.enable();
  const sample = () => {
    const now = performance.now();
    const minute = minuteOf(Math.min(now, stopAt - 1));
    minute.harnessLagMs = Math.max(minute.harnessLagMs, lag.max / 1e6);
    lag.reset();
    minute.gatewayRssMb = rssMb(gateway.child.pid);
    minute.engineRssMb = rssMb(engine?.child.pid);
    minute.loadAverage = loadavg()[0]!;
    readCpu(gateway.child.pid);
    readCpu(engine?.child.pid);
    samples.push({ minute: (now - began) / 60_000, gatewayRssMb: minute.gatewayRssMb });
  };
  const sampler = setInterval(sample, SAMPLE_EVERY_MS).unref();

  // The engine is killed and restarted while the load goes on; the restart and the gateway's return to it are timed.
  let restarting: Promise<void> = Promise.resolve();
  const restart = async (outage: Outage) => {
    readCpu(engine!.child.pid);
    await processes.kill(engine!);
    engine = undefined;
    engine = await processes.start(engineArgs(enginePort), restartTimeoutMs, 3);
    outage.listeningAt = performance.now();
    log(`engine restarted after ${((outage.listeningAt - outage.killedAt) / 1000).toFixed(1)} s (pid ${engine.child.pid})`);
    while (performance.now() - outage.listeningAt < restartTimeoutMs) {
      const state = await getJson<{ upstreams: { up: boolean }[] }>(`${gateway.url}/v1/gateway/state`);
      if (state?.upstreams[0]?.up) {
        outage.routedAt = performance.now();
        return;
      }
      await sleep(100);
    }
    throw new Error(`the gateway did not route to the restarted engine within ${restartTimeoutMs / 1000} s`);
  };
  let restartFailure: Error | undefined;

  const inFlight = new Set<Promise<void>>();
  const interval = 1000 / options.rate;
  let nextKill = options.killEverySeconds > 0 ? began + options.killEverySeconds * 1000 : Infinity;
  let due = began;
  let lastMinuteLogged = 0;
  for (let i = 0; ; i++) {
    const now = performance.now();
    if (restartFailure) throw restartFailure;
    if (now >= stopAt) break;
    if (now >= nextKill && (outages.length === 0 || outages.at(-1)!.routedAt !== undefined)) {
      nextKill += options.killEverySeconds * 1000;
      const outage: Outage = { killedAt: now };
      outages.push(outage);
      log(`engine killed (${outages.length})`);
      restarting = restart(outage).catch((error: Error) => {
        restartFailure = error;
      });
    }
    if (Math.floor((now - began) / 60_000) > lastMinuteLogged) {
      lastMinuteLogged = Math.floor((now - began) / 60_000);
      const m = minutes[lastMinuteLogged - 1];
      if (m) log(`minute ${m.minute}: ${m.sent} sent, ${m.ok} ok, load ${loadavg()[0]!.toFixed(1)}, ${inFlight.size} in flight`);
    }
    const request = one(i).finally(() => inFlight.delete(request));
    inFlight.add(request);
    due += interval;
    // A starved harness does not burst to catch up: it skips the sends it missed and says how many.
    if (performance.now() - due > 1_000) {
      const missed = Math.floor((performance.now() - due) / interval);
      behindSchedule += missed;
      due += missed * interval;
    }
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
  }
  sample();
  clearInterval(sampler);
  lag.disable();
  clearInterval(routingPoller);
  if (outSince !== undefined) outOfRouting.seconds += (performance.now() - outSince) / 1000;
  log(`load stopped: ${sent} sent, waiting for ${inFlight.size} in flight`);
  // Every request has its own deadline (client timeout, slow-client give-up): this wait is bounded by them.
  await Promise.all(inFlight);
  await restarting;
  if (restartFailure) throw restartFailure;

  // Locks: the gateway's shadow tree and the engine's pinned pages, polled until both are back to zero.
  const settleStart = performance.now();
  let locks = { gatewayShadowLockedPages: -1, engineRunning: -1, enginePinnedPages: -1, settledWithinSeconds: 0 };
  while (performance.now() - settleStart < 60_000) {
    const state = await getJson<{ upstreams: { shadowLockedPages: number }[] }>(`${gateway.url}/v1/gateway/state`);
    const engineState = await getJson<{ running: number; pinnedPages: number }>(`${engine!.url}/v1/engine/state`);
    locks = {
      gatewayShadowLockedPages: state ? state.upstreams.reduce((sum, u) => sum + u.shadowLockedPages, 0) : -1,
      engineRunning: engineState?.running ?? -1,
      enginePinnedPages: engineState?.pinnedPages ?? -1,
      settledWithinSeconds: Number(((performance.now() - settleStart) / 1000).toFixed(1)),
    };
    if (locks.gatewayShadowLockedPages === 0 && locks.engineRunning === 0 && locks.enginePinnedPages === 0) break;
    await sleep(250);
  }
  const metrics = await getText(`${gateway.url}/metrics`);
  readCpu(gateway.child.pid);
  readCpu(engine?.child.pid);
  const gatewayCpu = cpuOf.get(gateway.child.pid!) ?? 0;
  const harnessCpu = process.cpuUsage(harnessCpuAtStart);

  // Memory: judged from the later of a fifth of the run (500 instances begin, caches fill) and a minute
  // after the gateway routes to the first restarted engine (the first fault runs code not yet compiled).
  const mb = (bytes: number) => bytes / 2 ** 20;
  const probeSamples = memoryFile === undefined ? [] : readProbe(memoryFile).map((p) => ({ ...p, minute: (p.t - beganEpochMs) / 60_000 }));
  for (const p of probeSamples) if (p.minute >= 0 && p.minute < minutes.length) minutes[Math.floor(p.minute)]!.gatewayHeapMb = mb(p.heapUsed);
  const firstRouted = outages[0]?.routedAt;
  const fromMinute = Math.max((options.memoryFromSeconds ?? options.seconds / 5) / 60, firstRouted === undefined ? 0 : (firstRouted - began) / 60_000 + 1);
  const heap = judgeHeap(
    probeSamples.map((p) => ({ minute: p.minute, requests: p.requests, heapUsedMb: mb(p.heapUsed) })),
    { fromMinute },
  );
  const judgedProbe = probeSamples.filter((p) => p.minute >= fromMinute);
  const judgedRss = samples.filter((s) => s.minute >= fromMinute);
  const round1 = (value: number) => Number(value.toFixed(1));
  const round2 = (value: number) => Number(value.toFixed(2));
  const memory: SoakMemory = {
    heap: {
      ...heap,
      heapMbFirst: round1(heap.heapMbFirst),
      heapMbLast: round1(heap.heapMbLast),
      bytesPerRequest: round1(heap.bytesPerRequest),
      bytesPerRequestUpper: round1(heap.bytesPerRequestUpper),
      noiseMb: round2(heap.noiseMb),
      fromMinute: round2(heap.fromMinute),
    },
    noLeak: heap.withinLimit || (!heap.judged && options.seconds < MEMORY_JUDGED_FROM_SECONDS),
    rssMbFirst: Math.round(judgedRss[0]?.gatewayRssMb ?? 0),
    rssMbLast: Math.round(judgedRss.at(-1)?.gatewayRssMb ?? 0),
    rssSlopeMbPerMinute: round2(slopePerMinute(judgedRss.map((s) => ({ minute: s.minute, value: s.gatewayRssMb })))),
    heapSlopeMbPerMinute: round2(slopePerMinute(judgedProbe.map((p) => ({ minute: p.minute, value: mb(p.heapUsed) })))),
    heapTotalMbFirst: round1(mb(judgedProbe[0]?.heapTotal ?? 0)),
    heapTotalMbLast: round1(mb(judgedProbe.at(-1)?.heapTotal ?? 0)),
    externalMbFirst: round1(mb(judgedProbe[0]?.external ?? 0)),
    externalMbLast: round1(mb(judgedProbe.at(-1)?.external ?? 0)),
    externalSlopeMbPerMinute: round2(slopePerMinute(judgedProbe.map((p) => ({ minute: p.minute, value: mb(p.external) })))),
    gcPauseMsMax: Math.round(probeSamples.reduce((most, p) => Math.max(most, p.gcMs), 0)),
  };

  const unexplained = Object.entries(outcomes).reduce((sum, [kind, count]) => sum + (kind.startsWith('unexplained-') ? count : 0), 0);
  const hanging = sent - settled;
  const loads = minutes.map((m) => m.loadAverage).filter((l) => l > 0);
  const report: SoakReport = {
    seconds: options.seconds,
    rate: options.rate,
    sent,
    settled,
    hanging,
    behindSchedule,
    outcomes: Object.fromEntries(Object.entries(outcomes).sort(([a], [b]) => (a < b ? -1 : 1))),
    unexplained,
    unexplainedExamples,
    engineKills: outages.length,
    outOfRoutingOutsideKills: { times: outOfRouting.times, seconds: Number(outOfRouting.seconds.toFixed(1)) },
    cpuSeconds: {
      gateway: Number(gatewayCpu.toFixed(1)),
      engine: Number(([...cpuOf].reduce((sum, [pid, seconds]) => sum + (pid === gateway.child.pid ? 0 : seconds), 0)).toFixed(1)),
      harness: Number(((harnessCpu.user + harnessCpu.system) / 1e6).toFixed(1)),
      gatewayMsPerRequest: Number(((gatewayCpu * 1000) / Math.max(1, sent)).toFixed(2)),
    },
    outages: outages.map((o) => ({
      listenSeconds: Number((((o.listeningAt ?? NaN) - o.killedAt) / 1000).toFixed(1)),
      routedSeconds: Number((((o.routedAt ?? NaN) - o.killedAt) / 1000).toFixed(1)),
    })),
    locksAtEnd: locks,
    memory,
    slowClientCutSeconds: (() => {
      const sorted = slowClientCuts.sort((a, b) => a - b);
      const seconds = (value: number) => Number(value.toFixed(1));
      return { p50: seconds(percentile(sorted, 0.5)), p99: seconds(percentile(sorted, 0.99)), max: seconds(sorted.at(-1) ?? 0) };
    })(),
    gatewayCounted: {
      requestsByStatus: counterBy(metrics, 'kvflow_gateway_requests_total', 'status'),
      upstreamErrors: counterBy(metrics, 'kvflow_gateway_upstream_errors_total', 'kind'),
      clientDisconnects: Object.values(counterBy(metrics, 'kvflow_gateway_client_disconnects_total', 'none')).reduce((a, b) => a + b, 0),
    },
    loadAverage: { min: loads.length ? Math.min(...loads) : 0, max: loads.length ? Math.max(...loads) : 0 },
    perMinute: minutes.map(({ latencies, ...m }) => {
      const sorted = latencies.sort((a, b) => a - b);
      return { ...m, p50Ms: Math.round(percentile(sorted, 0.5)), p90Ms: Math.round(percentile(sorted, 0.9)), p99Ms: Math.round(percentile(sorted, 0.99)), gatewayRssMb: Math.round(m.gatewayRssMb), gatewayHeapMb: Number(m.gatewayHeapMb.toFixed(1)), engineRssMb: Math.round(m.engineRssMb), loadAverage: Number(m.loadAverage.toFixed(2)), harnessLagMs: Math.round(m.harnessLagMs) };
    }),
    passed: false,
  };
  report.passed = hanging === 0 && unexplained === 0 && locks.gatewayShadowLockedPages === 0 && locks.engineRunning === 0 && locks.enginePinnedPages === 0 && memory.noLeak && outages.every((o) => o.routedAt !== undefined);
  return report;
}

/**
 * `npm run soak [-- --minutes 10 --rate 200]`: a gateway and an engine, each its own `kvflow` process,
 * under mixed load for a while with faults injected, and what happened, minute by minute:
 * - load: workflow steps of a registered workflow (chat), plain completions, streams, and bad bodies;
 * - faults: the engine killed (SIGKILL) and restarted on its port every 2 minutes, streams cut by the
 *   client mid-way, slow clients trickling their bodies past the request timeout;
 * - per minute: requests answered, errors by kind, latency p50/p90/p99, the gateway's RSS;
 * - at the end: every request accounted for (an answer or a classified failure, none left hanging),
 *   shadow-tree locks back to zero, and the RSS slope over the run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { minutes: { type: 'string', default: '10' }, rate: { type: 'string', default: '200' }, json: { type: 'boolean', default: false } } });
const minutes = Number(values.minutes);
const rate = Number(values.rate);
if (!(minutes > 0) || !(rate > 0)) {
  process.stderr.write('kvflow soak: --minutes and --rate take numbers > 0\n');
  process.exit(2);
}
const repo = fileURLToPath(new URL('../../../', import.meta.url));
const cli = `${repo}dist/src/cli/main.js`;
const MODEL = 'Llama-3.1-8B';

interface Minute {
  minute: number;
  sent: number;
  ok: number;
  errors: Record<string, number>;
  latencyMs: number[];
  rssMb: number;
}

/**
 * Starts `kvflow ...args` and resolves with the URL it prints. A restart under a loaded machine may take
 * far longer than a first start (a soak on 2 shared cores once died here after 30 s): restarts wait longer.
 */
function start(args: string[], timeoutMs = 30_000): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [cli, ...args], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`kvflow ${args[0]} did not start within ${timeoutMs / 1000} s: ${out}`));
    }, timeoutMs);
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      const match = /listening on (\S+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve({ child, url: match[1]! });
      }
    });
    child.stderr!.resume();
    child.on('exit', (code) => reject(new Error(`kvflow ${args[0]} exited with ${code}: ${out}`)));
  });
}

function rssMb(pid: number | undefined): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

function percentile(sorted: number[], q: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

let engine = await start(['engine', '--port', '0', '--speed', '50']);
const enginePort = new URL(engine.url).port;
const gateway = await start(['gateway', '--port', '0', '--upstream', engine.url, '--upstream-kind', 'kvflow', '--served-model', MODEL, '--timeout', '5000', '--health-interval', '1000', '--request-timeout', '10000']);
const spec = {
  name: 'soak',
  agents: { planner: { fixed: 512, dynamic: 32, output: 8 }, coder: { fixed: 768, dynamic: 32, output: 8 }, tester: { fixed: 256, dynamic: 32, output: 8 } },
  edges: [{ from: 'planner', to: 'coder' }, { from: 'coder', to: 'tester' }],
  start: 'planner',
  rounds: 1000,
  shareAgents: false,
};
await fetch(`${gateway.url}/v1/workflows`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(spec) });

const system = (agent: string) => `You are the ${agent}. ${'Follow the plan and report. '.repeat(60)}`;
const minutesLog: Minute[] = [];
const current = (): Minute => minutesLog.at(-1)!;
let pending = 0;
let sent = 0;
let answered = 0;
const began = performance.now();
const stopAt = began + minutes * 60_000;
minutesLog.push({ minute: 1, sent: 0, ok: 0, errors: {}, latencyMs: [], rssMb: 0 });

async function one(i: number): Promise<void> {
  const minute = current();
  minute.sent++;
  sent++;
  pending++;
  const kind = i % 20;
  const t0 = performance.now();
  const count = (outcome: string) => {
    if (outcome === 'ok') minute.ok++;
    else minute.errors[outcome] = (minute.errors[outcome] ?? 0) + 1;
  };
  try {
    if (kind === 19) {
      await slowClient(gateway.url);
      count('slow-client-cut');
      return;
    }
    const agents = ['planner', 'coder', 'tester'];
    const agent = agents[i % 3]!;
    const instance = `run-${Math.floor(i / 3) % 500}`;
    const stream = kind === 7 || kind === 8;
    const body =
      kind === 13
        ? '{"model": "Llama-3.1-8B", "messages": [' // bad body
        : JSON.stringify({
            model: MODEL,
            max_tokens: 8,
            stream,
            messages: [{ role: 'system', content: system(agent) }, { role: 'user', content: `step ${i}` }],
            agent_hints: { workflow_id: instance, agent_id: agent },
          });
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), 30_000);
    const response = await fetch(`${gateway.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: abort.signal });
    if (stream && kind === 8 && response.body) {
      // Cut the stream after its first chunk.
      const reader = response.body.getReader();
      await reader.read();
      await reader.cancel();
      clearTimeout(timer);
      count('stream-cut-by-client');
      return;
    }
    await response.text();
    clearTimeout(timer);
    minute.latencyMs.push(performance.now() - t0);
    count(response.status === 200 ? 'ok' : `http-${response.status}`);
  } catch (error) {
    count(`network-${(error as Error).name}`);
  } finally {
    pending--;
    answered++;
  }
}

/** Sends headers and half a body, then waits for the gateway's request timeout to cut it. */
function slowClient(url: string): Promise<void> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname, () => socket.write('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{"model"'));
    socket.on('data', () => {});
    socket.on('close', () => resolve());
    socket.on('error', () => resolve());
    setTimeout(() => socket.destroy(), 20_000);
  });
}

let i = 0;
let nextKill = began + 120_000;
let engineKills = 0;
const interval = 1000 / rate;
while (performance.now() < stopAt) {
  const now = performance.now();
  if (now - began > current().minute * 60_000) {
    current().rssMb = rssMb(gateway.child.pid);
    minutesLog.push({ minute: current().minute + 1, sent: 0, ok: 0, errors: {}, latencyMs: [], rssMb: 0 });
  }
  if (now > nextKill) {
    nextKill += 120_000;
    engineKills++;
    engine.child.kill('SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    engine = await start(['engine', '--port', enginePort, '--speed', '50'], 300_000);
  }
  void one(i++);
  const due = began + i * interval;
  const wait = due - performance.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
}
current().rssMb = rssMb(gateway.child.pid);
const drainDeadline = performance.now() + 60_000;
while (pending > 0 && performance.now() < drainDeadline) await new Promise((resolve) => setTimeout(resolve, 100));
const state = (await (await fetch(`${gateway.url}/v1/gateway/state`)).json()) as { upstreams: { shadowLockedPages: number }[] };
const locks = state.upstreams.reduce((sum, u) => sum + u.shadowLockedPages, 0);
gateway.child.kill('SIGTERM');
engine.child.kill('SIGTERM');

// Memory slope: least squares over the per-minute RSS after the first minute (warm-up).
const points = minutesLog.slice(1).filter((m) => m.rssMb > 0);
const meanX = points.reduce((s, m) => s + m.minute, 0) / Math.max(1, points.length);
const meanY = points.reduce((s, m) => s + m.rssMb, 0) / Math.max(1, points.length);
const slope = points.length < 2 ? 0 : points.reduce((s, m) => s + (m.minute - meanX) * (m.rssMb - meanY), 0) / points.reduce((s, m) => s + (m.minute - meanX) ** 2, 0);
const summary = {
  minutes,
  rate,
  sent,
  answered,
  hanging: pending,
  engineKills,
  locksAtEnd: locks,
  rssSlopeMbPerMinute: Number(slope.toFixed(2)),
  perMinute: minutesLog.map((m) => {
    const sorted = [...m.latencyMs].sort((a, b) => a - b);
    return { minute: m.minute, sent: m.sent, ok: m.ok, errors: m.errors, p50Ms: Math.round(percentile(sorted, 0.5)), p90Ms: Math.round(percentile(sorted, 0.9)), p99Ms: Math.round(percentile(sorted, 0.99)), gatewayRssMb: Math.round(m.rssMb) };
  }),
};
if (values.json) console.log(JSON.stringify(summary, null, 2));
else {
  console.log(`kvflow soak: ${minutes} min at ${rate} req/s: ${sent} sent, ${answered} accounted for, ${pending} hanging, engine killed ${engineKills}x, locks at end ${locks}, gateway RSS slope ${summary.rssSlopeMbPerMinute} MB/min`);
  console.log('minute  sent     ok  p50ms  p90ms  p99ms  rssMB  errors');
  for (const m of summary.perMinute) {
    console.log(`${String(m.minute).padStart(6)} ${String(m.sent).padStart(5)} ${String(m.ok).padStart(6)} ${String(m.p50Ms).padStart(6)} ${String(m.p90Ms).padStart(6)} ${String(m.p99Ms).padStart(6)} ${String(m.gatewayRssMb).padStart(6)}  ${Object.entries(m.errors).map(([k, v]) => `${k}=${v}`).join(' ')}`);
  }
}
if (pending > 0 || locks > 0) process.exitCode = 1;

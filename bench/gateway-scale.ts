/**
 * Gateway cost per request against its state (issue 16), loopback only: three gateways in front of one
 * fixed-service-time engine (bench/gateway.ts's instrument, here also answering STE pushes, as a `kvflow`
 * upstream that gets diffs):
 * - `one`: one registered workflow (a 4-agent chain with private agents), requests over 8 instances;
 * - `full`: 10,000 registered workflows and 3,000 live instances, requests over those instances;
 * - `learned`: `--graph learned`, every request a new instance id (sessions only expire by silence).
 * Every request names its workflow, agent and instance, so the registry, STE tracking, diff publishing
 * and shadow re-ranking all run. Windows of 1,000 requests/s go in turn straight to the engine and
 * through each gateway, the order rotating per round; each round gives the added median and p99
 * latency of each gateway over the direct window of the same round. Figures: medians over the rounds,
 * and `full` and `learned` as ratios of `one`'s added latency (the target: about 1).
 */
import { Worker } from 'node:worker_threads';
import { Pool } from 'undici';
import { OnlineGraphLearner } from '../src/graph/learner.js';
import { WorkflowRegistry } from '../src/serve/gateway/workflow-registry.js';
import { steDiffBody } from '../src/serve/http/kvflow-update.js';
import { percentile } from '../src/sim/metrics.js';
import { parseWorkflowSpec } from '../src/workload/spec.js';
import { median } from './measure.js';
import type { BenchLine } from './replay.js';

const MODEL = 'Llama-3.1-8B';
const FIXED_SERVICE_MS = 1;
const RATE = 1000;
const WINDOW_SECONDS = 0.5;
const ROUNDS = 8;
const WORKFLOWS = 10_000;
const LIVE_INSTANCES = 3_000;
const AGENTS = ['plan', 'code', 'test', 'review'];

type Path = 'direct' | 'one' | 'full' | 'learned';
const PATHS: Path[] = ['direct', 'one', 'full', 'learned'];

export async function benchGatewayScale(): Promise<BenchLine[]> {
  return [...registryWorkLines(), ...(await latencyLines())];
}

/**
 * The registry's part of a request in CPU time (which other processes disturb far less than latency):
 * begin, end, the STE changes taken and serialized as a diff, for the three gateway states above, plus
 * one workflow whose requests rotate over 3,000 instances: the same rotation as the full registry's
 * without its 10,000 workflows, which tells state size (what the target is about) from the number of
 * instances a stream of requests keeps touching (memory locality). Rounds are unbounded enough that no
 * instance runs past its last round during the bench (an instance past it has fewer STE keys to move:
 * with 1,000 rounds, the one-workflow baseline got there and looked 1.4x cheaper than it is).
 */
function registryWorkLines(): BenchLine[] {
  const base = parseWorkflowSpec(
    {
      name: 'chain',
      agents: Object.fromEntries(AGENTS.map((agent) => [agent, { fixed: 64, dynamic: 16, output: 1 }])),
      edges: AGENTS.slice(1).map((agent, i) => ({ from: AGENTS[i], to: agent })),
      start: AGENTS[0],
      rounds: 1_000_000,
      shareAgents: false,
    },
    'bench',
  );
  const one = new WorkflowRegistry({ idleSeconds: 300 });
  one.register({ ...base, name: 'wf0' });
  const rotating = new WorkflowRegistry({ idleSeconds: 300 });
  rotating.register({ ...base, name: 'wf0' });
  const full = new WorkflowRegistry({ idleSeconds: 300, limits: { maxWorkflows: WORKFLOWS } });
  for (let i = 0; i < WORKFLOWS; i++) full.register({ ...base, name: `wf${i}` });
  const learned = new WorkflowRegistry({ idleSeconds: 300, learner: new OnlineGraphLearner() });
  const registries = { one, rotating, full, learned } as const;
  const counters = { one: 0, rotating: 0, full: 0, learned: 0 };
  const step = (path: keyof typeof registries) => {
    const registry = registries[path];
    const n = counters[path]++;
    // The rotating registry: the full one's instance rotation, every instance in the one workflow.
    const headers = path === 'rotating' ? { ...hintsFor('full', n), 'x-kvflow-spec': 'wf0' } : hintsFor(path, n);
    const hints = { workflow: headers['x-kvflow-workflow'], agent: headers['x-kvflow-agent'], spec: headers['x-kvflow-spec'] };
    const ticket = registry.begin(hints, 0);
    let changes = registry.takeChanges();
    if (changes) JSON.stringify(steDiffBody(changes, 0));
    if (ticket) registry.end(ticket, 0);
    changes = registry.takeChanges();
    if (changes) JSON.stringify(steDiffBody(changes, 0));
  };
  for (let i = 0; i < LIVE_INSTANCES; i++) step('full'); // every instance live
  for (let i = 0; i < LIVE_INSTANCES; i++) step('rotating');
  const requests = 20_000;
  const cpu: Record<keyof typeof registries, number[]> = { one: [], rotating: [], full: [], learned: [] };
  for (let run = 0; run < 6; run++) {
    for (const path of ['one', 'rotating', 'full', 'learned'] as const) {
      const before = process.cpuUsage();
      for (let i = 0; i < requests; i++) step(path);
      const used = process.cpuUsage(before);
      if (run > 0) cpu[path].push((used.user + used.system) / requests); // microseconds; run 0 warms up
    }
  }
  const us = (path: keyof typeof registries) => median(cpu[path]);
  return [
    {
      name: 'registry work per request, 1 workflow',
      value: `${us('one').toFixed(2)} us CPU (begin, end, STE diffs taken and serialized; median of 5 interleaved runs of ${requests.toLocaleString('en-US')})`,
    },
    {
      name: `registry work per request, 1 workflow, requests rotating over ${rotating.instanceCount.toLocaleString('en-US')} live instances`,
      value: `${us('rotating').toFixed(2)} us CPU, ${(us('rotating') / us('one')).toFixed(2)}x the 8-instance rotation (no more state, only a wider working set)`,
    },
    {
      name: `registry work per request, ${WORKFLOWS.toLocaleString('en-US')} workflows, ${full.instanceCount.toLocaleString('en-US')} live`,
      value: `${us('full').toFixed(2)} us CPU, ${(us('full') / us('one')).toFixed(2)}x the one-workflow registry, ${(us('full') / us('rotating')).toFixed(2)}x the same rotation in one workflow`,
      target: 'about 1x',
    },
    {
      name: 'registry work per request, learned, new id each',
      value: `${us('learned').toFixed(2)} us CPU, ${(us('learned') / us('one')).toFixed(2)}x (${learned.learnedSessions.toLocaleString('en-US')} sessions kept of ${counters.learned.toLocaleString('en-US')} seen)`,
    },
  ];
}

async function latencyLines(): Promise<BenchLine[]> {
  const servers = await startServers();
  try {
    const counters: Record<Path, number> = { direct: 0, one: 0, full: 0, learned: 0 };
    const run = (path: Path) => openLoop(servers.urls[path], path, counters, RATE, WINDOW_SECONDS);
    // Make the full gateway's instances live: one step each (also warms every path up).
    await openLoop(servers.urls.full, 'full', counters, 2000, LIVE_INSTANCES / 2000);
    for (const path of PATHS) await run(path);
    const added: Record<Path, { p50: number[]; p99: number[] }> = { direct: { p50: [], p99: [] }, one: { p50: [], p99: [] }, full: { p50: [], p99: [] }, learned: { p50: [], p99: [] } };
    const served: Record<Path, { ok: number; errors: number; seconds: number }> = {
      direct: { ok: 0, errors: 0, seconds: 0 },
      one: { ok: 0, errors: 0, seconds: 0 },
      full: { ok: 0, errors: 0, seconds: 0 },
      learned: { ok: 0, errors: 0, seconds: 0 },
    };
    for (let round = 0; round < ROUNDS; round++) {
      const order = PATHS.map((_, i) => PATHS[(i + round) % PATHS.length]!);
      const results = new Map<Path, Awaited<ReturnType<typeof run>>>();
      for (const path of order) results.set(path, await run(path));
      const direct = results.get('direct')!;
      const ds = Float64Array.from(direct.latencies).sort();
      for (const path of PATHS) {
        const result = results.get(path)!;
        served[path].ok += result.latencies.length;
        served[path].errors += result.errors;
        served[path].seconds += result.seconds;
        const gs = Float64Array.from(result.latencies).sort();
        added[path].p50.push(percentile(gs, 0.5) - percentile(ds, 0.5));
        added[path].p99.push(percentile(gs, 0.99) - percentile(ds, 0.99));
      }
    }
    const state = await servers.state();
    const us = (ms: number) => `${(ms * 1000).toFixed(0)} us`;
    const ratio = (path: Path, key: 'p50' | 'p99') => {
      const base = median(added.one[key]);
      return base > 0 ? `${(median(added[path][key]) / base).toFixed(2)}x` : 'n/a (one-workflow added latency <= 0)';
    };
    const throughput = (path: Path) => `${(served[path].ok / served[path].seconds).toFixed(0)} answered/s, ${served[path].errors} errors`;
    const lines: BenchLine[] = [];
    const describe: Record<Exclude<Path, 'direct'>, string> = {
      one: '1 workflow',
      full: `${state.full.workflows.toLocaleString('en-US')} workflows, ${state.full.instances.toLocaleString('en-US')} live instances`,
      learned: `learned graph, a new instance id per request (${state.learned.sessions.toLocaleString('en-US')} sessions kept at the end)`,
    };
    for (const path of ['one', 'full', 'learned'] as const) {
      lines.push({
        name: `gateway @ ${RATE}/s, ${describe[path]}`,
        value: `added p50 ${us(median(added[path].p50))}, p99 ${us(median(added[path].p99))} (${throughput(path)})` +
          (path === 'one' ? '' : `; ${ratio(path, 'p50')} / ${ratio(path, 'p99')} the one-workflow gateway's added p50 / p99`),
        ...(path === 'full' && { target: 'holds 1,000 req/s with the added latency of one workflow (ratio about 1)' }),
        baseline: `direct to the engine: ${throughput('direct')}; medians over ${ROUNDS} rounds of ${WINDOW_SECONDS} s windows, path order rotating`,
      });
    }
    return lines;
  } finally {
    await servers.close();
  }
}

/** Sends `rate` requests per second for `seconds` (open loop) to one path; each one's latency in ms. */
async function openLoop(url: string, path: Path, counters: Record<Path, number>, rate: number, seconds: number) {
  const pool = new Pool(url, { connections: 64 });
  const latencies: number[] = [];
  let errors = 0;
  const total = Math.round(rate * seconds);
  const started = performance.now();
  const inFlight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    const n = counters[path]++;
    inFlight.push(
      (async () => {
        const sent = performance.now();
        try {
          const response = await pool.request({ method: 'POST', path: '/v1/chat/completions', headers: hintsFor(path, n), body: bodyFor(n) });
          await response.body.dump();
          if (response.statusCode === 200) latencies.push(performance.now() - sent);
          else errors++;
        } catch {
          errors++;
        }
      })(),
    );
  }
  await Promise.all(inFlight);
  await pool.close();
  return { latencies, errors, seconds: (performance.now() - started) / 1000 };
}

/** The n-th request of a path: which workflow, instance and agent it is a step of. */
function hintsFor(path: Path, n: number): Record<string, string> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (path === 'direct') return headers;
  if (path === 'learned') return { ...headers, 'x-kvflow-workflow': `session-${n}`, 'x-kvflow-agent': AGENTS[n % AGENTS.length]! };
  const instances = path === 'one' ? 8 : LIVE_INSTANCES;
  const instance = n % instances;
  const workflow = path === 'one' ? 0 : instance % WORKFLOWS;
  const agent = AGENTS[Math.floor(n / instances) % AGENTS.length]!;
  return { ...headers, 'x-kvflow-spec': `wf${workflow}`, 'x-kvflow-workflow': `${path}-${instance}`, 'x-kvflow-agent': agent };
}

function bodyFor(n: number): string {
  const agent = AGENTS[n % AGENTS.length]!;
  return JSON.stringify({
    model: MODEL,
    max_tokens: 1,
    messages: [
      { role: 'system', content: `You are the ${agent}. Answer briefly.` },
      { role: 'user', content: `Request ${n}: what next?` },
    ],
  });
}

interface Servers {
  urls: Record<Path, string>;
  state(): Promise<{ full: { workflows: number; instances: number }; learned: { sessions: number } }>;
  close(): Promise<void>;
}

/** The engine and the three gateways on one worker thread (the load generator has the main one). */
async function startServers(): Promise<Servers> {
  const modules = {
    gateway: new URL('../src/serve/gateway/gateway-server.js', import.meta.url).href,
    spec: new URL('../src/workload/spec.js', import.meta.url).href,
  };
  const source = `
    const { parentPort, workerData } = require('node:worker_threads');
    const http = require('node:http');
    (async () => {
      const { modules, model, serviceMs, workflows, agents } = workerData;
      const { startGateway, GATEWAY_DEFAULTS } = await import(modules.gateway);
      const { parseWorkflowSpec } = await import(modules.spec);
      const answer = JSON.stringify({
        id: 'chatcmpl-fixed', object: 'chat.completion', created: 0, model,
        choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'length' }],
        usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
      });
      const engineServer = http.createServer((request, response) => {
        request.resume();
        request.on('end', () => {
          const send = () => {
            const body = request.url.endsWith('/v1/update') ? '{"status":"ok"}' : answer;
            response.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
            response.end(body);
          };
          if (request.url.endsWith('/chat/completions')) setTimeout(send, serviceMs);
          else send();
        });
      });
      engineServer.keepAliveTimeout = 60_000;
      await new Promise((resolve) => engineServer.listen(0, '127.0.0.1', resolve));
      const engineUrl = 'http://127.0.0.1:' + engineServer.address().port;
      const spec = (name) => parseWorkflowSpec({
        name, blockSize: 16,
        agents: Object.fromEntries(agents.map((agent) => [agent, { fixed: 64, dynamic: 16, output: 1 }])),
        edges: agents.slice(1).map((agent, i) => ({ from: agents[i], to: agent })),
        start: agents[0], rounds: 1000, shareAgents: false, instances: 1,
        arrival: { kind: 'closed', concurrency: 1 },
      }, name);
      const start = (extra) => startGateway({
        ...GATEWAY_DEFAULTS, upstreams: [{ url: engineUrl, kind: 'kvflow' }], models: [model],
        registryLimits: { maxWorkflows: workflows + 1 }, ...extra,
      });
      const one = await start({});
      one.registry.register(spec('wf0'));
      const full = await start({});
      for (let i = 0; i < workflows; i++) full.registry.register(spec('wf' + i));
      const learned = await start({ graph: 'learned' });
      parentPort.postMessage({ urls: { direct: engineUrl, one: one.url, full: full.url, learned: learned.url } });
      parentPort.on('message', async (message) => {
        if (message === 'state') {
          parentPort.postMessage({ state: {
            full: { workflows: full.registry.workflowCount, instances: full.registry.instanceCount },
            learned: { sessions: learned.registry.learnedSessions },
          } });
          return;
        }
        for (const gateway of [one, full, learned]) await gateway.close();
        engineServer.closeAllConnections();
        await new Promise((resolve) => engineServer.close(resolve));
        parentPort.postMessage({ closed: true });
      });
    })().catch((error) => parentPort.postMessage({ error: String((error && error.stack) || error) }));
  `;
  const worker = new Worker(source, {
    eval: true,
    workerData: { modules, model: MODEL, serviceMs: FIXED_SERVICE_MS, workflows: WORKFLOWS, agents: AGENTS },
  });
  const first = await new Promise<{ urls?: Record<Path, string>; error?: string }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  if (first.error || !first.urls) {
    await worker.terminate();
    throw new Error(`server thread failed: ${first.error}`);
  }
  return {
    urls: first.urls,
    state: () =>
      new Promise((resolve) => {
        worker.once('message', (message: { state: Awaited<ReturnType<Servers['state']>> }) => resolve(message.state));
        worker.postMessage('state');
      }),
    close: async () => {
      const closed = new Promise((resolve) => worker.once('message', resolve));
      worker.postMessage('close');
      await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 5_000))]);
      await worker.terminate();
    },
  };
}

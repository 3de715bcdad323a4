/**
 * `kvflow gateway --redis`: replicas sharing their state through a real redis-server, every server a
 * separate `kvflow` process. One request sequence (two instances of a ten-agent workflow) runs through a
 * single gateway without Redis, then through replicas taking turns, one of them SIGKILLed half way and a
 * fresh one joining: after every step the engines hold the same STE tables and every request went to the
 * same upstream. Then Redis is stopped (requests still served, the gauge says so) and restarted empty
 * (the replicas reseed it and agree again), and finished and idle instances leave Redis.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, kvflow } from '../helpers/cli.js';
import { REPO } from '../helpers/sim.js';

const MODEL = 'Llama-3.1-8B';
const SPEC = join(REPO, 'workloads/sequential-10.json');

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

interface Proc {
  child: ChildProcess;
  url: string;
  log: { text: string };
}

/** Starts `kvflow ...args` and resolves with the URL it prints once listening. */
function startKvflow(args: string[]): Promise<Proc> {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  const log = { text: '' };
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (log.text += chunk));
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      const match = out.match(/listening on (http:\/\/\S+)/);
      if (match) resolve({ child, url: match[1]!, log });
    });
    child.once('exit', (code) => reject(new Error(`kvflow ${args[0]} exited (${code}): ${log.text}`)));
  });
}

async function stop(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill(signal);
  await exited;
}

function startRedis(port: number): Promise<ChildProcess> {
  const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    redis.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      if (out.includes('Ready to accept connections')) resolve(redis);
    });
    redis.once('error', reject);
    redis.once('exit', (code) => reject(new Error(`redis-server exited (${code}): ${out}`)));
  });
}

async function redisCli(port: number, db: number, ...args: string[]): Promise<string> {
  const child = spawn('redis-cli', ['-p', String(port), '-n', String(db), ...args], { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  await new Promise((resolve) => child.once('exit', resolve));
  return out.trim();
}

async function json(url: string): Promise<any> {
  return (await fetch(url, { signal: AbortSignal.timeout(5_000) })).json();
}

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function metric(url: string, name: string): Promise<number | undefined> {
  const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5_000) })).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

/** Routing decisions counted by a gateway, as `upstream reason` -> count. */
async function decisions(url: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5_000) })).text();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = line.match(/^kvflow_gateway_routing_decisions_total\{upstream="([^"]+)",reason="([^"]+)"\} (\d+)/);
    if (match) out.set(`${match[1]} ${match[2]}`, Number(match[3]));
  }
  return out;
}

const systemPrompt = (agent: string) => `You are agent ${agent}. ${'Work carefully and report what you did. '.repeat(60)}`;

/** Two instances of sequential-10 interleaved: w1 runs 11 steps (a0 again at the end), w2 5. */
const STEPS: { instance: string; agent: string }[] = [];
for (let i = 0; i < 11; i++) {
  STEPS.push({ instance: 'w1', agent: `a${i % 10}` });
  if (i < 5) STEPS.push({ instance: 'w2', agent: `a${i}` });
}
/** The step before which the first replica is killed and another joins. */
const KILL_AT = 6;

async function step(gateway: string, s: { instance: string; agent: string }, i: number): Promise<string> {
  const response = await fetch(`${gateway}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-kvflow-workflow': s.instance, 'x-kvflow-agent': s.agent, 'x-kvflow-spec': 'sequential-10' },
    body: JSON.stringify({ model: MODEL, max_tokens: 2, messages: [{ role: 'system', content: systemPrompt(s.agent) }, { role: 'user', content: `step ${i}` }] }),
    signal: AbortSignal.timeout(10_000),
  });
  await response.text();
  expect(response.status).toBe(200);
  return response.headers.get('x-kvflow-upstream')!;
}

describe('kvflow gateway --redis (real Redis, replicas as processes)', () => {
  let redisPort: number;
  let redis: ChildProcess;
  let redisUrl: string;
  const engines: Proc[] = [];
  const gateways: Proc[] = [];
  /** What the engines held after each step of the single gateway's run, and where each step went. */
  let single: { upstream: string; tables: unknown[] }[];
  let singleDecisions: Map<string, number>;

  const gatewayArgs = (extra: string[]) => [
    'gateway',
    '--port', '0',
    ...engines.flatMap((engine) => ['--upstream', engine.url]),
    '--upstream-kind', 'kvflow',
    '--workflow', SPEC,
    // Small shadow trees: prompts get evicted, so routing moves between cache hits and misses.
    '--shadow-capacity', '3000',
    '--instance-idle', '30',
    '--health-interval', '0',
    ...extra,
  ];
  const replicaArgs = () => gatewayArgs(['--redis', redisUrl, '--redis-heartbeat', '250', '--redis-checkpoint', '300', '--redis-admissions', '16']);
  const startGatewayProc = async (args: string[]) => {
    const gateway = await startKvflow(args);
    gateways.push(gateway);
    return gateway;
  };

  /** The replica that pushes STE (the single gateway pushes its own). */
  const leaderOf = async (urls: string[]): Promise<string | undefined> => {
    for (const url of urls) {
      const state = await json(`${url}/v1/gateway/state`);
      if (!state.redis || (state.redis.leader && state.redis.connected)) return url;
    }
    return undefined;
  };
  /** Waits until every replica has applied every request's end and the engines hold the leader's table. */
  const settled = async (urls: string[]): Promise<unknown[]> => {
    await waitFor(async () => {
      for (const url of urls) {
        const state = await json(`${url}/v1/gateway/state`);
        if (state.redis && state.redis.openRequests !== 0) return false;
      }
      const leader = await leaderOf(urls);
      if (!leader) return false;
      const table = (await json(`${leader}/v1/ste`)).agent_data;
      for (const engine of engines) if (JSON.stringify((await json(`${engine.url}/v1/engine/state`)).ste) !== JSON.stringify(table)) return false;
      return true;
    }, 'the STE tables to settle');
    return Promise.all(engines.map(async (engine) => (await json(`${engine.url}/v1/engine/state`)).ste));
  };

  beforeAll(async () => {
    redisPort = await freePort();
    redisUrl = `redis://127.0.0.1:${redisPort}`;
    redis = await startRedis(redisPort);
    engines.push(...(await Promise.all([0, 1].map(() => startKvflow(['engine', '--port', '0', '--speed', '1000'])))));
  }, 180_000);

  afterAll(async () => {
    await Promise.all([...gateways, ...engines].map((p) => stop(p.child, 'SIGKILL')));
    if (redis) await stop(redis);
  });

  it('a single gateway without Redis: the reference run', async () => {
    const gateway = await startGatewayProc(gatewayArgs([]));
    single = [];
    for (const [i, s] of STEPS.entries()) {
      const upstream = await step(gateway.url, s, i);
      single.push({ upstream, tables: await settled([gateway.url]) });
    }
    expect((await fetch(`${gateway.url}/v1/workflows/instances/w1`, { method: 'DELETE' })).status).toBe(204);
    await settled([gateway.url]);
    singleDecisions = await decisions(gateway.url);
    // Both upstreams chosen, for cache hits and for misses: the comparison below is about real choices.
    expect(new Set(single.map((s) => s.upstream)).size).toBe(2);
    expect([...singleDecisions.keys()].some((key) => key.endsWith(' cache'))).toBe(true);
    await stop(gateway.child);
  }, 180_000);

  it('replicas taking turns, one killed and one joining, push the same STE and route the same way', async () => {
    const [a, b] = await Promise.all([startGatewayProc(replicaArgs()), startGatewayProc(replicaArgs())]);
    const replicated: typeof single = [];
    const total = new Map<string, number>();
    const add = (counts: Map<string, number>) => counts.forEach((n, key) => total.set(key, (total.get(key) ?? 0) + n));
    let c: Proc | undefined;
    for (const [i, s] of STEPS.entries()) {
      if (i === KILL_AT) {
        add(await decisions(a!.url));
        await stop(a!.child, 'SIGKILL');
        c = await startGatewayProc(replicaArgs()); // loads the shared state from Redis
      }
      const live = i < KILL_AT ? [a!, b!] : [b!, c!];
      const upstream = await step(live[i % 2]!.url, s, i);
      replicated.push({ upstream, tables: await settled(live.map((g) => g.url)) });
      expect(replicated[i], `step ${i} (${s.instance} ${s.agent})`).toEqual(single[i]);
    }
    expect((await fetch(`${c!.url}/v1/workflows/instances/w1`, { method: 'DELETE' })).status).toBe(204);
    await settled([b!.url, c!.url]);
    add(await decisions(b!.url));
    add(await decisions(c!.url));
    expect(total).toEqual(singleDecisions);
    // Both replicas hold the same state.
    const [sb, sc] = await Promise.all([json(`${b!.url}/v1/gateway/state`), json(`${c!.url}/v1/gateway/state`)]);
    expect(sb.upstreams.map((u: { shadowPages: number }) => u.shadowPages)).toEqual(sc.upstreams.map((u: { shadowPages: number }) => u.shadowPages));
    expect(await json(`${b!.url}/v1/ste`)).toEqual(await json(`${c!.url}/v1/ste`));
  }, 180_000);

  it('keeps serving while Redis is down, says so, and resynchronises when it returns empty', async () => {
    const live = gateways.filter((g) => g.child.exitCode === null && g.child.signalCode === null);
    expect(live).toHaveLength(2);
    await stop(redis);
    await waitFor(async () => (await Promise.all(live.map((g) => metric(g.url, 'kvflow_gateway_redis_connected')))).every((v) => v === 0), 'the gauges to say 0');
    // Each replica serves a new instance on its own.
    await step(live[0]!.url, { instance: 'w3', agent: 'a0' }, 100);
    await step(live[1]!.url, { instance: 'w4', agent: 'a0' }, 101);
    for (const g of live) expect(g.log.text).toMatch(/Redis at redis:\/\/127\.0\.0\.1:\d+\/? is unreachable/);
    expect((await json(`${live[0]!.url}/v1/gateway/state`)).redis.offlineOps).toBeGreaterThan(0);

    redis = await startRedis(redisPort); // no persistence: it comes back empty
    await waitFor(async () => (await Promise.all(live.map((g) => metric(g.url, 'kvflow_gateway_redis_connected')))).every((v) => v === 1), 'the gauges to say 1');
    await waitFor(async () => {
      const states = await Promise.all(live.map((g) => json(`${g.url}/v1/gateway/state`)));
      const tables = await Promise.all(live.map((g) => json(`${g.url}/v1/ste`)));
      return states.every((s) => s.instances === 3 && s.workflows === 1 && s.redis.offlineOps === 0) && JSON.stringify(tables[0]) === JSON.stringify(tables[1]);
    }, 'both replicas to hold w2 and both offline instances');
    expect(live.map((g) => g.log.text).join('')).toMatch(/seeded it with this replica's/);
    expect(live.map((g) => g.log.text).join('')).toMatch(/offline changes replayed/);
    expect(await redisCli(redisPort, 0, 'EXISTS', 'kvflow:gateway:epoch')).toBe('1');
  }, 90_000);

  it('lets finished and idle instances leave Redis', async () => {
    // A replica of its own (database 1): instances idle after 1 s, checkpoints every 200 ms, 4 admissions kept.
    const replica = await startGatewayProc(
      gatewayArgs(['--redis', `${redisUrl}/1`, '--instance-idle', '1', '--redis-checkpoint', '200', '--redis-admissions', '4']),
    );
    for (const [i, s] of [{ instance: 'x1', agent: 'a0' }, { instance: 'x1', agent: 'a1' }, { instance: 'x2', agent: 'a0' }, { instance: 'x3', agent: 'a0' }].entries()) {
      await step(replica.url, s, 200 + i);
    }
    // Finished now, or (on a slow machine) already expired after its second of silence: gone either way.
    expect([204, 404]).toContain((await fetch(`${replica.url}/v1/workflows/instances/x1`, { method: 'DELETE' })).status);
    const checkpointKinds = async () => {
      const checkpoint = JSON.parse(await redisCli(redisPort, 1, 'GET', 'kvflow:gateway:checkpoint'));
      return checkpoint.ops.map((o: { op: { kind: string } }) => o.op.kind) as string[];
    };
    await waitFor(async () => (await checkpointKinds()).includes('begin'), 'a checkpoint with the live instances');
    await waitFor(async () => !(await checkpointKinds()).includes('begin'), 'the instances to leave the checkpoint');
    const kinds = await checkpointKinds();
    expect(kinds.filter((k) => k === 'end')).toEqual([]);
    expect(kinds.filter((k) => k === 'register')).toHaveLength(1);
    expect(kinds.filter((k) => k === 'seed').length).toBeLessThanOrEqual(4);
    expect(Number(await redisCli(redisPort, 1, 'XLEN', 'kvflow:gateway:log'))).toBeLessThan(20);
    expect((await json(`${replica.url}/v1/gateway/state`)).instances).toBe(0);
  }, 90_000);

  it('refuses an unreachable or malformed --redis with one line and exit 2', async () => {
    const bad = await kvflow(['gateway', '--upstream', 'http://127.0.0.1:9', '--redis', 'http://x']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--redis: "http:\/\/x" must start with redis:\/\//);
    const closed = await kvflow(['gateway', '--upstream', 'http://127.0.0.1:9', '--served-model', MODEL, '--redis', `redis://127.0.0.1:${await freePort()}`]);
    expect(closed.status).toBe(2);
    expect(closed.stderr.trim().split('\n')).toHaveLength(1);
    expect(closed.stderr).toMatch(/--redis: cannot use Redis at redis:\/\/127\.0\.0\.1:\d+/);
  }, 60_000);
});

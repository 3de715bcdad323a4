/**
 * `kvflow sweep --queue` against a real redis-server and separate `kvflow worker` processes: the document
 * is byte-identical to a local sweep, a worker killed mid-point has its point retried by another worker,
 * and a failing point is reported without losing the others.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateRequests } from '../../src/workload/generate.js';
import { loadWorkflowSpec } from '../../src/workload/spec.js';
import { writeTrace } from '../../src/workload/trace.js';
import { CLI, kvflow } from '../helpers/cli.js';
import { REPO } from '../helpers/sim.js';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Resolves when `child`'s stderr has a line matching `pattern`. */
function waitForLine(child: ChildProcess, pattern: RegExp, seen: { text: string }): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const match = seen.text.match(pattern);
      if (match) {
        child.stderr!.off('data', check);
        resolve(match);
      }
    };
    child.stderr!.on('data', check);
    child.once('exit', () => reject(new Error(`process exited before ${pattern}: ${seen.text}`)));
    check();
  });
}

interface Worker {
  child: ChildProcess;
  log: { text: string };
}

describe('kvflow sweep --queue (real Redis, worker processes)', () => {
  let dir: string;
  let redis: ChildProcess;
  let url: string;
  const workers: Worker[] = [];

  const startWorker = async (concurrency: number): Promise<Worker> => {
    // Another working directory than the sweep's: relative paths in points must still resolve.
    const child = spawn(process.execPath, [CLI, 'worker', '--queue', url, '--concurrency', String(concurrency), '--lock-duration', '1000', '--stalled-interval', '500'], {
      cwd: dir,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const log = { text: '' };
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (log.text += chunk));
    const worker = { child, log };
    workers.push(worker);
    await waitForLine(child, /ready on/, log);
    return worker;
  };
  const stopWorker = async (worker: Worker, signal: NodeJS.Signals = 'SIGTERM') => {
    if (worker.child.exitCode !== null || worker.child.signalCode !== null) return;
    const exited = new Promise((resolve) => worker.child.once('exit', resolve));
    worker.child.kill(signal);
    await exited;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kvflow-sweep-queue-'));
    const spec = await loadWorkflowSpec(join(REPO, 'workloads/sequential-10.json'));
    // Big enough that a point takes a while, so a worker can be killed in the middle of one.
    await writeTrace(join(dir, 'slow.jsonl'), generateRequests({ ...spec, rounds: 300 }, { seed: 1 }));
    await writeTrace(join(dir, 'small.jsonl'), generateRequests({ ...spec, rounds: 2 }, { seed: 2 }));
    const small = await readFile(join(dir, 'small.jsonl'), 'utf8');
    await writeFile(join(dir, 'bad.jsonl'), `${small}{"id": "broken", "blocks": "nope"}\n`);
    const port = await freePort();
    url = `redis://127.0.0.1:${port}`;
    redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
    await new Promise<void>((resolve, reject) => {
      let out = '';
      redis.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
        out += chunk;
        if (out.includes('Ready to accept connections')) resolve();
      });
      redis.once('error', reject);
      redis.once('exit', (code) => reject(new Error(`redis-server exited (${code}): ${out}`)));
    });
  }, 60_000);

  afterAll(async () => {
    await Promise.all(workers.map((worker) => stopWorker(worker, 'SIGKILL')));
    if (redis && redis.exitCode === null) {
      const exited = new Promise((resolve) => redis.once('exit', resolve));
      redis.kill('SIGTERM');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  });

  const grid = async (name: string, traces: string[]) => {
    const file = join(dir, `${name}.json`);
    await writeFile(file, JSON.stringify({ name, kind: 'replay', base: { policy: ['lru', 'belady', 'ste'], capacity: ['8k', '64k'] }, axes: { trace: traces } }));
    return file;
  };

  it('gives the local document byte for byte, with a worker killed mid-point', async () => {
    const file = await grid('kill', ['slow.jsonl', 'small.jsonl', 'slow.jsonl']);
    const local = await kvflow(['sweep', file, '--workers', '0'], { timeoutMs: 120_000 });
    expect(local.status, local.stderr).toBe(0);

    const doomed = await startWorker(1);
    const sweep = kvflow(['sweep', file, '--queue', url], { timeoutMs: 120_000 });
    const [, killedJob] = (await waitForLine(doomed.child, /running (\S+) \(run/, doomed.log))!;
    await stopWorker(doomed, 'SIGKILL');
    expect(doomed.log.text).not.toContain(`done ${killedJob}`);
    const rescuer = await startWorker(2);
    const queued = await sweep;
    expect(queued.stderr).toBe('');
    expect(queued.status).toBe(0);
    expect(queued.stdout).toBe(local.stdout);
    // The killed worker's point was found stalled and run again by the other worker.
    expect(rescuer.log.text).toContain(`running ${killedJob} `);
    expect(rescuer.log.text).toContain(`done ${killedJob}`);
    await stopWorker(rescuer);
  }, 180_000);

  it('reports a failing point with its error and keeps the others in --out', async () => {
    const worker = await startWorker(2);
    const file = await grid('fail', ['small.jsonl', 'bad.jsonl', 'small.jsonl']);
    const out = join(dir, 'fail-out.json');
    const run = await kvflow(['sweep', file, '--queue', url, '--out', out], { timeoutMs: 120_000 });
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/^kvflow: 1 of 3 sweep points failed: runs\.1 \(trace=bad\.jsonl\): .*bad\.jsonl.*finished runs are in/);
    expect(run.stderr).not.toMatch(/\n\s+at /);
    const saved = JSON.parse(await readFile(out, 'utf8'));
    expect(saved.runs.map((r: { index: number }) => r.index).sort()).toEqual([0, 2]);
    await stopWorker(worker);
  }, 120_000);

  it('ships policy files in the job, resolves them by path when the same, and shows progress across workers', async () => {
    await mkdir(join(dir, 'policies'), { recursive: true });
    const policy = join(dir, 'policies', 'long.mjs');
    await copyFile(join(REPO, 'examples/policies/long-prompts.js'), policy);
    const file = join(dir, 'policies-grid.json');
    await writeFile(file, JSON.stringify({ name: 'policies', kind: 'replay', base: { policy: ['lru', './policies/long.mjs'], trace: 'small.jsonl' }, axes: { capacity: [['4k'], ['8k'], ['16k']] } }));
    const local = await kvflow(['sweep', file, '--workers', '0'], { timeoutMs: 120_000 });
    expect(local.status, local.stderr).toBe(0);
    expect(local.stdout).toContain('"long-prompts"');

    // Queued while no worker runs; then the file disappears: workers can only use the copy in the job.
    const sweep = kvflow(['sweep', file, '--queue', url, '--progress', 'lines'], { timeoutMs: 120_000 });
    const { Queue } = await import('bullmq');
    const { hostname, port } = new URL(url);
    const queue = new Queue('kvflow-sweep', { connection: { host: hostname, port: Number(port) } });
    try {
      while ((await queue.getWaitingCount()) < 3) await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      await queue.close();
    }
    await rename(policy, `${policy}.moved`);
    const worker = await startWorker(2);
    const shipped = await sweep;
    expect(shipped.status, shipped.stderr).toBe(0);
    expect(shipped.stdout).toBe(local.stdout);
    expect(worker.log.text).toMatch(/policy \S+long\.mjs is missing or differs here: running the copy shipped in the job/);
    const lines = shipped.stderr.trimEnd().split('\n');
    expect(lines.every((line) => /^kvflow sweep: \d\/3 done, \d running, \d failed$/.test(line))).toBe(true);
    expect(lines.some((line) => / [12] running/.test(line))).toBe(true);
    expect(lines.at(-1)).toBe('kvflow sweep: 3/3 done, 0 running, 0 failed');

    // Back in place and unchanged: the worker runs the file at its path.
    await rename(`${policy}.moved`, policy);
    const before = worker.log.text.length;
    const byPath = await kvflow(['sweep', file, '--queue', url], { timeoutMs: 120_000 });
    expect(byPath.status, byPath.stderr).toBe(0);
    expect(byPath.stdout).toBe(local.stdout);
    expect(worker.log.text.slice(before)).toContain('done ');
    expect(worker.log.text.slice(before)).not.toContain('shipped');
    await stopWorker(worker);
  }, 180_000);

  it('names the flag when the queue URL is bad or Redis is not there', async () => {
    const file = await grid('bad-url', ['small.jsonl']);
    const bad = await kvflow(['sweep', file, '--queue', 'http://x']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^kvflow: --queue: "http:\/\/x" must start with redis:\/\//);
    const down = await kvflow(['sweep', file, '--queue', `redis://127.0.0.1:${await freePort()}`]);
    expect(down.status).toBe(2);
    expect(down.stderr).toMatch(/^kvflow: --queue: cannot reach Redis/);
  }, 60_000);
});

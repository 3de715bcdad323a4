/**
 * Distributed sweeps: the wall time of one `kvflow sweep` (whole process) on the local piscina pool (2
 * threads) against the same grid through the BullMQ queue with 1 and with 2 `kvflow worker` processes
 * (concurrency 1 each), all on this machine against a local redis-server. Interleaved round by round so
 * load hits all three alike; medians. Every run's document is checked byte-identical to the local one.
 * Skipped (said so) without redis-server.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateRequests } from '../src/workload/generate.js';
import { loadWorkflowSpec } from '../src/workload/spec.js';
import { writeTrace } from '../src/workload/trace.js';
import { median, processSeconds } from './measure.js';
import { repoRoot } from './paths.js';
import type { BenchLine } from './replay.js';

const ROUNDS = 3;
const POINTS = 8;

export async function benchSweepQueue(): Promise<BenchLine[]> {
  if (spawnSync('redis-server', ['--version']).status !== 0) return [{ name: 'sweep --queue', value: 'skipped: no redis-server on PATH' }];
  const cli = `${repoRoot}dist/src/cli/main.js`;
  const dir = mkdtempSync(join(tmpdir(), 'kvflow-bench-sweep-'));
  const children: ChildProcess[] = [];
  try {
    const spec = await loadWorkflowSpec(`${repoRoot}workloads/sequential-10.json`);
    await writeTrace(join(dir, 'trace.jsonl'), generateRequests({ ...spec, rounds: 150 }, { seed: 1 }));
    const grid = join(dir, 'grid.json');
    writeFileSync(
      grid,
      JSON.stringify({
        name: 'bench',
        kind: 'replay',
        base: { trace: 'trace.jsonl', policy: ['lru', 'lfu', 'ste'] },
        axes: { capacity: Array.from({ length: POINTS }, (_, i) => [`${8 * (i + 1)}k`]) },
      }),
    );
    const port = await freePort();
    const url = `redis://127.0.0.1:${port}`;
    const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'ignore'] });
    children.push(redis);
    await waitFor(redis, 'stdout', /Ready to accept connections/);
    const startWorker = async () => {
      const worker = spawn(process.execPath, [cli, 'worker', '--queue', url, '--concurrency', '1'], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
      children.push(worker);
      await waitFor(worker, 'stderr', /ready on/);
      return worker;
    };
    const stopWorker = async (worker: ChildProcess) => {
      const exited = new Promise((resolve) => worker.once('exit', resolve));
      worker.kill('SIGTERM');
      await exited;
    };

    const times: Record<'local' | 'queue1' | 'queue2', number[]> = { local: [], queue1: [], queue2: [] };
    let expected: string | undefined;
    const timed = (name: keyof typeof times, args: string[]) => {
      const { seconds, stdout } = processSeconds(process.execPath, [cli, 'sweep', grid, ...args], dir);
      expected ??= stdout;
      if (stdout !== expected) throw new Error(`sweep ${args.join(' ')}: document differs from the local sweep`);
      times[name].push(seconds);
    };
    const first = await startWorker();
    for (let round = 0; round < ROUNDS; round++) {
      timed('local', ['--workers', '2']);
      timed('queue1', ['--queue', url]);
      const second = await startWorker();
      timed('queue2', ['--queue', url]);
      await stopWorker(second);
    }
    await stopWorker(first);
    const local = median(times.local);
    const one = median(times.queue1);
    const two = median(times.queue2);
    const baseline = `local piscina pool, 2 threads: ${local.toFixed(2)} s wall (median of ${ROUNDS})`;
    return [
      { name: `sweep --queue, 1 worker (${POINTS} points)`, value: `${one.toFixed(2)} s wall, ${(one / local).toFixed(2)}x the local pool`, baseline },
      { name: `sweep --queue, 2 workers (${POINTS} points)`, value: `${two.toFixed(2)} s wall, ${(two / local).toFixed(2)}x the local pool, ${(one / two).toFixed(2)}x the speed of 1 worker`, baseline },
    ];
  } finally {
    await Promise.all(
      children
        .filter((child) => child.exitCode === null && child.signalCode === null)
        .map((child) => {
          const exited = new Promise((resolve) => child.once('exit', resolve));
          child.kill('SIGTERM');
          return exited;
        }),
    );
    rmSync(dir, { recursive: true, force: true });
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function waitFor(child: ChildProcess, stream: 'stdout' | 'stderr', pattern: RegExp): Promise<void> {
  return new Promise((resolve, reject) => {
    let text = '';
    child[stream]!.setEncoding('utf8').on('data', (chunk: string) => {
      text += chunk;
      if (pattern.test(text)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`${child.spawnargs.join(' ')} exited (${code}) before ${pattern}: ${text}`)));
  });
}

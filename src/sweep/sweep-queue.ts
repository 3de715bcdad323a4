/**
 * Sweeps on a BullMQ queue (`kvflow sweep GRID --queue redis://HOST:PORT`, `kvflow worker --queue ...`).
 * The sweep enqueues one job per grid point; workers on any machine run each point with the same code as
 * the local piscina pool (sweep-task.ts), so merged in grid order the document is byte-identical to a
 * local sweep. BullMQ's stalled-job detection hands a point whose worker died to another worker.
 */
import { randomUUID } from 'node:crypto';
import { isAbsolute, resolve } from 'node:path';
import { Piscina } from 'piscina';
import type { Job, QueueEvents as QueueEventsType } from 'bullmq';
import { InputError } from '../errors.js';
import { workerScript } from '../worker-script.js';
import { runLabel, type SweepGrid, type SweepRun } from './sweep-grid.js';
import type { SweepRunOutput } from './sweep-point.js';
import type { SweepTaskResult } from './sweep-task.js';
import { localPolicies, shipPolicies, type ShippedPolicy } from './shipped-policies.js';

export const SWEEP_QUEUE = 'kvflow-sweep';
/** Path fields a point reads from disk; the sweep's relative paths are resolved against its directory. */
const PATH_FIELDS = ['workload', 'trace', 'config', 'workflow'] as const;

export interface SweepJob {
  run: SweepRun;
  timelines: boolean;
  /** The sweep's working directory: relative paths in the run are relative to it. */
  cwd: string;
  /** The policy files the run names, with their source (absent in jobs of older sweeps). */
  policies?: ShippedPolicy[];
}

export interface RedisConnection {
  host: string;
  port: number;
  db?: number;
  password?: string;
  username?: string;
}

/** `redis://[user:pass@]HOST:PORT[/DB]` as BullMQ connection options; bad input names the flag. */
export function parseRedisUrl(text: string, flag = '--queue'): RedisConnection {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new InputError(`${flag}: "${text}" is not a URL (expected redis://HOST:PORT[/DB])`);
  }
  if (url.protocol !== 'redis:') throw new InputError(`${flag}: "${text}" must start with redis://`);
  if (url.hostname === '') throw new InputError(`${flag}: "${text}" has no host`);
  const port = url.port === '' ? 6379 : Number(url.port);
  const dbText = url.pathname.replace(/^\//, '');
  if (dbText !== '' && !/^\d{1,2}$/.test(dbText)) throw new InputError(`${flag}: "${text}": database "${dbText}" is not a number`);
  return {
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port,
    ...(dbText !== '' && { db: Number(dbText) }),
    ...(url.password !== '' && { password: decodeURIComponent(url.password) }),
    ...(url.username !== '' && { username: decodeURIComponent(url.username) }),
  };
}

/** Where the points of a queued sweep are, across all workers. */
export interface QueueStatus {
  total: number;
  /** Finished without error. */
  done: number;
  /** Taken by a worker and not finished. */
  running: number;
  failed: number;
}

export interface QueueSweepOptions {
  timelines: boolean;
  onProgress?: (done: number) => void;
  /** Told whenever a point starts, finishes, fails or goes back to the queue (its worker died). */
  onStatus?: (status: QueueStatus) => void;
  onRunDone?: (output: SweepRunOutput) => void | Promise<void>;
}

/** Every run of the grid through the queue; settles every point, then reports all failed ones at once. */
export async function runOnQueue(grid: SweepGrid, url: string, options: QueueSweepOptions): Promise<SweepRunOutput[]> {
  const connection = parseRedisUrl(url);
  const { Queue, QueueEvents } = await import('bullmq');
  // Ride out short Redis blips, but give up (and let the process exit) when Redis stays away.
  const sweepConnection = { ...connection, retryStrategy: (times: number) => (times > 10 ? null : Math.min(times * 200, 1000)) };
  const queue = new Queue<SweepJob, SweepTaskResult>(SWEEP_QUEUE, { connection: sweepConnection });
  const events = new QueueEvents(SWEEP_QUEUE, { connection: sweepConnection });
  queue.on('error', () => {});
  events.on('error', () => {});
  try {
    const ready = Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('no answer in 5 s')), 5000)));
    await Promise.race([ready, timeout])
      .catch((error: Error) => {
        throw new InputError(`--queue: cannot reach Redis at ${url}: ${error.message || 'connection refused'}`);
      })
      .finally(() => clearTimeout(timer));
    const sweep = randomUUID();
    const shipped = await Promise.all(grid.runs.map((run) => shipPolicies(run, `${grid.file}: runs.${run.index} (${runLabel(run)})`)));
    const status = trackStatus(events, sweep, grid.runs.length, options.onStatus);
    const jobs = await queue.addBulk(
      grid.runs.map((run) => ({
        name: 'point',
        data: { run, timelines: options.timelines, cwd: process.cwd(), ...(shipped[run.index]!.length > 0 && { policies: shipped[run.index]! }) },
        // A point that fails fails for good (bad input is deterministic); a dead worker's point is retried
        // through stalled-job detection, not through attempts.
        opts: { jobId: `${sweep}-${run.index}`, attempts: 1, removeOnComplete: { age: 3600 }, removeOnFail: { age: 86_400 } },
      })),
    );
    let done = 0;
    const settled = await Promise.allSettled(
      jobs.map(async (job) => {
        try {
          const result = await finished(job, events);
          status.settle(job.id!, result.ok);
          if (result.ok) await options.onRunDone?.(result.output);
          return result;
        } catch (error) {
          status.settle(job.id!, false);
          throw error;
        } finally {
          options.onProgress?.(++done);
        }
      }),
    );
    status.stop();
    const failures: string[] = [];
    const outputs: SweepRunOutput[] = [];
    settled.forEach((outcome, index) => {
      const run = grid.runs[index]!;
      if (outcome.status === 'rejected') failures.push(`runs.${index} (${runLabel(run)}): ${errorText(outcome.reason)}`);
      else if (!outcome.value.ok) failures.push(`runs.${index} (${runLabel(run)}): ${outcome.value.inputError}`);
      else outputs.push(outcome.value.output);
    });
    if (failures.length > 0) {
      throw new InputError(`${failures.length} of ${grid.runs.length} sweep points failed: ${failures.join('; ')}`);
    }
    return outputs;
  } finally {
    await Promise.race([Promise.allSettled([queue.close(), events.close()]), new Promise((resolve) => setTimeout(resolve, 2000))]);
  }
}

/**
 * Counts this sweep's points by state from the queue's event stream (every worker's starts, stalls and
 * failures); settled points are final whatever events arrive late.
 */
function trackStatus(events: QueueEventsType, sweep: string, total: number, onStatus: ((status: QueueStatus) => void) | undefined) {
  const running = new Set<string>();
  const settled = new Map<string, boolean>();
  const ours = (jobId: string) => jobId.startsWith(`${sweep}-`) && !settled.has(jobId);
  const report = () => {
    let done = 0;
    for (const ok of settled.values()) if (ok) done++;
    onStatus?.({ total, done, running: running.size, failed: settled.size - done });
  };
  const onActive = ({ jobId }: { jobId: string }) => {
    if (!ours(jobId) || running.has(jobId)) return;
    running.add(jobId);
    report();
  };
  const onStalled = ({ jobId }: { jobId: string }) => {
    if (ours(jobId) && running.delete(jobId)) report();
  };
  if (onStatus) {
    events.on('active', onActive);
    events.on('stalled', onStalled);
  }
  return {
    settle(jobId: string, ok: boolean) {
      if (settled.has(jobId)) return;
      running.delete(jobId);
      settled.set(jobId, ok);
      report();
    },
    stop() {
      events.off('active', onActive);
      events.off('stalled', onStalled);
    },
  };
}

async function finished(job: Job<SweepJob, SweepTaskResult>, events: QueueEventsType): Promise<SweepTaskResult> {
  return (await job.waitUntilFinished(events)) as SweepTaskResult;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export interface SweepWorkerOptions {
  concurrency: number;
  /** BullMQ lock and stalled-check timings (ms): short ones find a dead worker's point sooner. */
  lockDuration?: number;
  stalledInterval?: number;
  log?: (line: string) => void;
}

/**
 * A worker: takes points off the queue and runs each on a piscina thread, so this thread stays free to
 * renew the job locks (a point computed here would block lock renewal and look stalled).
 */
export async function startSweepWorker(url: string, options: SweepWorkerOptions): Promise<{ close: () => Promise<void> }> {
  const connection = parseRedisUrl(url);
  const { Worker } = await import('bullmq');
  const log = options.log ?? (() => {});
  const newPool = (threads: number) =>
    new Piscina<{ run: SweepRun; timelines: boolean }, SweepTaskResult>({
      filename: workerScript(import.meta.url, 'sweep-task'),
      minThreads: threads,
      maxThreads: threads,
    });
  const shared = newPool(options.concurrency);
  // A point naming policy files runs on a fresh thread: a worker outlives sweeps, and a policy file
  // changed (or shipped anew) between them must be imported afresh, not taken from a long-lived thread's
  // module cache and policy registry. Points with built-in policies only share the long-lived threads.
  const runPoint = async (task: { run: SweepRun; timelines: boolean }, ownThread: boolean): Promise<SweepTaskResult> => {
    if (!ownThread) return shared.run(task);
    const pool = newPool(1);
    try {
      return await pool.run(task);
    } finally {
      await pool.destroy();
    }
  };
  const worker = new Worker<SweepJob, SweepTaskResult>(
    SWEEP_QUEUE,
    async (job) => {
      const { timelines, cwd } = job.data;
      const local = await localPolicies(job.data.run, job.data.policies ?? []);
      const run = local.run;
      log(`running ${job.id} (run ${run.index})`);
      for (const { path, copy } of local.copies) log(`${job.id}: policy ${path} is missing or differs here: running the copy shipped in the job (${copy})`);
      const result = await runPoint({ run: withPathsFrom(run, cwd), timelines }, (job.data.policies ?? []).length > 0);
      // Bad input fails the job with its message; the sweep reports it against the point.
      if (!result.ok) throw new Error(result.inputError);
      log(`done ${job.id}`);
      return result;
    },
    {
      connection: { ...connection, maxRetriesPerRequest: null },
      concurrency: options.concurrency,
      maxStalledCount: 3,
      ...(options.lockDuration !== undefined && { lockDuration: options.lockDuration }),
      ...(options.stalledInterval !== undefined && { stalledInterval: options.stalledInterval }),
    },
  );
  worker.on('error', (error) => log(`redis: ${error.message}`));
  worker.on('failed', (job, error) => log(`failed ${job?.id ?? '?'}: ${error.message}`));
  await worker.waitUntilReady();
  return {
    close: async () => {
      await worker.close();
      await shared.destroy();
    },
  };
}

/** The run with relative path fields made absolute against the sweep's directory (workers run anywhere). */
function withPathsFrom(run: SweepRun, cwd: string): SweepRun {
  if (cwd === process.cwd()) return run;
  const config: Record<string, unknown> = { ...run.config };
  for (const field of PATH_FIELDS) {
    const value = config[field];
    if (typeof value === 'string' && !isAbsolute(value)) config[field] = resolve(cwd, value);
  }
  return { ...run, config } as SweepRun;
}

import type { Command } from 'commander';
import { availableParallelism } from 'node:os';
import { parseInteger } from './flags.js';
import { runCommand } from './run.js';

interface WorkerFlags {
  queue: string;
  concurrency?: number;
  lockDuration?: number;
  stalledInterval?: number;
}

/**
 * `kvflow worker --queue redis://HOST:PORT`: runs sweep points from the queue that `kvflow sweep --queue`
 * fills, until SIGINT/SIGTERM. Paths in a point are read on this machine (a shared filesystem or copies
 * at the same paths).
 */
export function registerWorker(program: Command): void {
  program
    .command('worker')
    .description('run sweep points from a BullMQ queue on Redis (see kvflow sweep --queue, docs/distributed.md)')
    .requiredOption('--queue <redis-url>', 'the Redis holding the queue: redis://HOST:PORT[/DB]')
    .option('--concurrency <n>', 'points run at once, each on its own thread (default: one per core)', (v) => parseInteger(v, 1))
    .option('--lock-duration <ms>', 'job lock time; a dead worker\'s point is retried after about this long (default 30000)', (v) => parseInteger(v, 100))
    .option('--stalled-interval <ms>', 'how often to look for points of dead workers (default 30000)', (v) => parseInteger(v, 100))
    .action((flags: WorkerFlags) => runCommand(() => workerCommand(flags)));
}

async function workerCommand(flags: WorkerFlags): Promise<void> {
  const { parseRedisUrl, startSweepWorker } = await import('../sweep/sweep-queue.js');
  parseRedisUrl(flags.queue);
  const concurrency = flags.concurrency ?? availableParallelism();
  const log = (line: string) => process.stderr.write(`kvflow worker: ${line}\n`);
  const worker = await startSweepWorker(flags.queue, {
    concurrency,
    ...(flags.lockDuration !== undefined && { lockDuration: flags.lockDuration }),
    ...(flags.stalledInterval !== undefined && { stalledInterval: flags.stalledInterval }),
    log,
  });
  log(`ready on ${flags.queue} (concurrency ${concurrency})`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  log('stopping: finishing running points');
  await worker.close();
}

/**
 * One setup's warm concurrent-1024 figure in a worker thread of its own (bench/simulate.ts): a fresh
 * isolate, so the JIT has seen only this setup's objects.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { SetupName } from '../src/sim/setups.js';
import { gcClock, warmConcurrent } from './simulate.js';

const gc = gcClock();
try {
  parentPort!.postMessage(await warmConcurrent(gc, (workerData as { setup: SetupName }).setup));
} finally {
  gc.stop();
}

/**
 * A simulator figure measured in a worker thread of its own (bench/simulate.ts): a fresh isolate, so the
 * JIT has seen only this run's objects. Either one setup's warm concurrent-1024 figure, or the whole
 * Mooncake run with the event queue's stretches on or off (off: each repeated decode iteration is its
 * own event, as before stretches existed; the queue's `stretch` is removed in this isolate only, and a
 * replica whose clock has none wakes itself every iteration).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { EventQueue } from '../src/sim/event-queue.js';
import type { SetupName } from '../src/sim/setups.js';
import { gcClock, mooncakeWhole, warmConcurrent } from './simulate.js';

const gc = gcClock();
const data = workerData as { setup: SetupName } | { mooncake: { stretches: boolean } };
try {
  if ('setup' in data) parentPort!.postMessage(await warmConcurrent(gc, data.setup));
  else {
    if (!data.mooncake.stretches) Reflect.deleteProperty(EventQueue.prototype, 'stretch');
    parentPort!.postMessage(await mooncakeWhole(gc));
  }
} finally {
  gc.stop();
}

/**
 * `kvflow sweep`: every run of a grid on a piscina pool (or in-process with `workers: 0`), merged in grid
 * order, so the document is byte-identical whatever the number of workers. Simulate grids also render
 * one HTML report with every run's setups side by side.
 */
import { Piscina } from 'piscina';
import { InputError } from '../errors.js';
import type { ReplayReport } from '../replay/replay-suite.js';
import type { SimReport, SimTimeline } from '../types.js';
import type { SweepGrid } from './sweep-grid.js';
import { runSweepPoint, type SweepRunOutput } from './sweep-point.js';
import type { SweepTaskResult } from './sweep-task.js';
import { workerScript } from '../worker-script.js';
import type { QueueStatus } from './sweep-queue.js';

export interface SweepOptions {
  /** Worker threads; 0 runs every point in this thread. */
  workers: number;
  /** A BullMQ queue on Redis (`redis://HOST:PORT`): points run on `kvflow worker` processes instead. */
  queue?: string;
  /** Keep simulate timelines. */
  timelines: boolean;
  onProgress?: (done: number) => void;
  /** With `queue`: points done, running (on any worker) and failed, whenever that changes. */
  onStatus?: (status: QueueStatus) => void;
  /** Called as each run finishes, in completion order (to stream results before the sweep ends). */
  onRunDone?: (output: SweepRunOutput) => void | Promise<void>;
}

/** The JSON document of `kvflow sweep`. */
export interface SweepDocument {
  grid: { name: string; kind: SweepGrid['kind']; file: string; runs: number };
  runs: { index: number; params: Record<string, unknown>; report: SimReport | ReplayReport }[];
}

export interface SweepOutcome {
  document: SweepDocument;
  /** Per run, when asked for and the grid simulates. */
  timelines?: SimTimeline[][];
}

export async function runSweep(grid: SweepGrid, options: SweepOptions): Promise<SweepOutcome> {
  const outputs =
    options.queue !== undefined
      ? await (await import('./sweep-queue.js')).runOnQueue(grid, options.queue, options)
      : options.workers === 0
        ? await runInProcess(grid, options)
        : await runOnPool(grid, options);
  outputs.sort((a, b) => a.index - b.index);
  const document: SweepDocument = {
    grid: { name: grid.name, kind: grid.kind, file: grid.file, runs: grid.runs.length },
    runs: outputs.map((output) => ({ index: output.index, params: grid.runs[output.index]!.params, report: output.report })),
  };
  const keepTimelines = options.timelines && grid.kind === 'simulate';
  return { document, ...(keepTimelines && { timelines: outputs.map((output) => output.timelines ?? []) }) };
}

async function runInProcess(grid: SweepGrid, options: SweepOptions): Promise<SweepRunOutput[]> {
  const outputs: SweepRunOutput[] = [];
  for (const run of grid.runs) {
    const output = await runSweepPoint(run, { timelines: options.timelines });
    outputs.push(output);
    await options.onRunDone?.(output);
    options.onProgress?.(outputs.length);
  }
  return outputs;
}

async function runOnPool(grid: SweepGrid, options: SweepOptions): Promise<SweepRunOutput[]> {
  const threads = Math.max(1, Math.min(options.workers, grid.runs.length));
  const pool = new Piscina<{ run: SweepGrid['runs'][number]; timelines: boolean }, SweepTaskResult>({
    filename: workerScript(import.meta.url, 'sweep-task'),
    minThreads: threads,
    maxThreads: threads,
  });
  let done = 0;
  try {
    // Every run settles before the sweep reports a failure, so finished runs still reach onRunDone.
    const settled = await Promise.allSettled(
      grid.runs.map(async (run) => {
        const result = await pool.run({ run, timelines: options.timelines });
        if (result.ok) await options.onRunDone?.(result.output);
        options.onProgress?.(++done);
        return result;
      }),
    );
    return settled.map((outcome) => {
      if (outcome.status === 'rejected') throw outcome.reason;
      if (!outcome.value.ok) throw new InputError(outcome.value.inputError);
      return outcome.value.output;
    });
  } finally {
    await pool.destroy();
  }
}

/**
 * One HTML report for a sweep, simulate or replay grid: each metric against the swept values in small
 * multiples, and a table of every run (src/report/sweep-html.ts).
 */
export async function renderSweepHtml(grid: SweepGrid, outcome: SweepOutcome): Promise<string> {
  const { renderSweepReport } = await import('../report/sweep-html.js');
  return renderSweepReport({
    grid: { name: grid.name, kind: grid.kind, file: grid.file, ...(grid.description && { description: grid.description }) },
    runs: outcome.document.runs,
  });
}

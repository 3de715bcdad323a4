/**
 * `kvflow sweep`: every run of a grid on a piscina pool (or in-process with `workers: 0`), merged in grid
 * order, so the document is byte-identical whatever the number of workers. Simulate grids also render
 * one HTML report with every run's setups side by side.
 */
import { Piscina } from 'piscina';
import { InputError } from '../errors.js';
import { renderHtmlReport } from '../report/html.js';
import type { ReplayReport } from '../replay/replay-suite.js';
import type { SimReport, SimResult, SimTimeline } from '../types.js';
import { runLabel, type SweepGrid } from './sweep-grid.js';
import { runSweepPoint, type SweepRunOutput } from './sweep-point.js';
import type { SweepTaskResult } from './sweep-task.js';
import { workerScript } from '../worker-script.js';

export interface SweepOptions {
  /** Worker threads; 0 runs every point in this thread. */
  workers: number;
  /** Keep simulate timelines (for the HTML report). */
  timelines: boolean;
  onProgress?: (done: number) => void;
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
  const outputs = options.workers === 0 ? await runInProcess(grid, options) : await runOnPool(grid, options);
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
    outputs.push(await runSweepPoint(run, { timelines: options.timelines }));
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
    const results = await Promise.all(
      grid.runs.map(async (run) => {
        const result = await pool.run({ run, timelines: options.timelines });
        options.onProgress?.(++done);
        return result;
      }),
    );
    return results.map((result) => {
      if (!result.ok) throw new InputError(result.inputError);
      return result.output;
    });
  } finally {
    await pool.destroy();
  }
}

/**
 * One HTML report for a simulate sweep: every run's setups as rows and series named
 * `setup [axis=value ...]`; "speedup vs X" compares with setup X of the same run.
 */
export async function renderSweepHtml(grid: SweepGrid, outcome: SweepOutcome): Promise<string> {
  if (grid.kind !== 'simulate') throw new InputError('--report: HTML reports are for simulate grids');
  const results: SimResult[] = [];
  const timelines: SimTimeline[] = [];
  outcome.document.runs.forEach((run, i) => {
    const label = runLabel(grid.runs[run.index]!);
    const name = (setup: string) => (grid.runs.length > 1 ? `${setup} [${label}]` : setup);
    for (const result of (run.report as SimReport).results) results.push({ ...result, setup: name(result.setup) });
    for (const timeline of outcome.timelines?.[i] ?? []) timelines.push({ ...timeline, setup: name(timeline.setup) });
  });
  const config = {
    grid: grid.name,
    file: grid.file,
    runs: grid.runs.map((run) => runLabel(run)),
    note: 'speedup vs X compares with setup X in the same run',
  };
  return renderHtmlReport({ config, results }, timelines, { title: `kvflow sweep: ${grid.name}` });
}

import type { Command } from 'commander';
import { writeFile } from 'node:fs/promises';
import type { ReplayReport } from '../replay/replay-suite.js';
import { createProgress, type Progress } from '../report/progress.js';
import type { QueueStatus } from '../sweep/sweep-queue.js';
import { durationColumn } from '../report/sim-table.js';
import { formatTokenCount, percent, renderTable } from '../report/table.js';
import type { SimReport } from '../types.js';
import { loadSweepGrid, type SweepGrid } from '../sweep/sweep-grid.js';
import { shortLabel, varyingKeys } from '../report/sweep-labels.js';
import { renderSweepHtml, runSweep, type SweepDocument } from '../sweep/sweep.js';
import { defaultWorkers } from '../worker-script.js';
import { parseInteger, parseName } from './flags.js';
import { checkWritable } from './output-paths.js';
import { emit, runCommand } from './run.js';
import { SweepOutFile } from '../sweep/sweep-out.js';
import { preflightSweep } from '../sweep/sweep-preflight.js';

interface SweepFlags {
  workers?: number;
  out?: string;
  report?: string;
  queue?: string;
  progress: 'auto' | 'lines' | 'none';
}

/**
 * `kvflow sweep GRID.json`: a grid of simulate or replay runs on worker threads, merged in grid order.
 * The JSON goes to `--out` (then stdout gets a summary table) or to stdout.
 */
export function registerSweep(program: Command): void {
  program
    .command('sweep')
    .description('run a grid of simulate or replay configurations on worker threads; deterministic JSON, optional HTML report')
    .argument('<grid>', 'grid file (JSON): kind, base, axes, points (see the README)')
    .option('--workers <n>', 'worker threads (default: one per core, at most one per run; 0: this thread)', (v) => parseInteger(v, 0))
    .option('--out <file.json>', 'write the JSON document here, run by run as they finish, and print a summary table instead')
    .option('--queue <redis-url>', 'run the points on `kvflow worker` processes through a BullMQ queue on this Redis (docs/distributed.md)')
    .option('--report <file.html>', 'write a self-contained HTML report: each metric against the swept values')
    .option(
      '--progress <mode>',
      'auto: a bar on a terminal (with --out); lines: a line on stderr at every change (points done, and with --queue running and failed on all workers); none',
      (v) => parseName(v, ['auto', 'lines', 'none'] as const),
      'auto',
    )
    .action((grid: string, flags: SweepFlags) => runCommand(() => sweepCommand(grid, flags)));
}

async function sweepCommand(path: string, flags: SweepFlags): Promise<void> {
  checkWritable(flags.out, '--out');
  checkWritable(flags.report, '--report');
  const grid = await loadSweepGrid(path);
  await preflightSweep(grid, [
    { flag: '--out', path: flags.out },
    { flag: '--report', path: flags.report },
  ]);
  const out = flags.out === undefined ? undefined : new SweepOutFile(flags.out, grid);
  await out?.start();
  let status: QueueStatus | undefined;
  const detail = () => (status ? `${status.running} running, ${status.failed} failed` : '');
  const progress =
    flags.progress === 'lines'
      ? progressLines(grid.runs.length, () => status)
      : createProgress('sweep', grid.runs.length, { quiet: flags.out === undefined || flags.progress === 'none', ...(flags.queue !== undefined && { detail }) });
  let outcome;
  try {
    outcome = await runSweep(grid, {
      workers: flags.workers ?? defaultWorkers(grid.runs.length),
      ...(flags.queue !== undefined && { queue: flags.queue }),
      timelines: false,
      onProgress: (done) => progress.update(status?.done ?? done),
      onStatus: (now) => {
        status = now;
        progress.update(now.done);
      },
      ...(out && { onRunDone: (output) => out.add(output) }),
    });
  } catch (error) {
    progress.stop();
    await out?.fail(error);
    if (out && error instanceof Error) error.message += ` (finished runs are in ${flags.out})`;
    throw error;
  }
  progress.stop();
  await out?.finish(outcome.document);
  if (flags.report !== undefined) await writeFile(flags.report, await renderSweepHtml(grid, outcome));
  if (flags.out === undefined) {
    emit(JSON.stringify(outcome.document));
    return;
  }
  const written = [`results: ${flags.out}`, ...(flags.report ? [`report: ${flags.report}`] : [])].join('\n');
  emit(`${renderSweepTable(grid, outcome.document)}\n${written}`);
}

/** `--progress lines`: one stderr line whenever the counts change (logs, CI, pipes). */
function progressLines(total: number, status: () => QueueStatus | undefined): Progress {
  let last = '';
  return {
    update(done) {
      const now = status();
      const line = now ? `kvflow sweep: ${now.done}/${total} done, ${now.running} running, ${now.failed} failed` : `kvflow sweep: ${done}/${total} done`;
      if (line === last) return;
      last = line;
      process.stderr.write(`${line}\n`);
    },
    stop() {},
  };
}

/** One row per (run, setup) for simulate grids, per (run, capacity, policy) for replay grids. */
export function renderSweepTable(grid: SweepGrid, document: SweepDocument): string {
  const heading = `sweep ${grid.name} (${grid.file}): ${grid.runs.length} ${grid.kind} runs`;
  return `${heading}\n${sweepRows(grid, document)}`;
}

function sweepRows(grid: SweepGrid, document: SweepDocument): string {
  const keys = varyingKeys(grid.runs);
  const runLabel = (run: SweepGrid['runs'][number]) => shortLabel(run.params, keys, run.index);
  if (grid.kind === 'simulate') {
    const lines = document.runs.flatMap((run) => {
      const report = run.report as SimReport;
      const reference = report.results[0]?.setup;
      return report.results.map((r) => ({ run, r, reference }));
    });
    const latency = durationColumn('latency mean', lines.map(({ r }) => (r.workflows > 0 ? r.workflowLatency.mean : r.e2e.mean)));
    const ttft = durationColumn('ttft p50', lines.map(({ r }) => r.ttft.p50));
    const makespan = durationColumn('makespan', lines.map(({ r }) => r.makespan));
    const rows = lines.map(({ run, r, reference }, i) => [
      runLabel(grid.runs[run.index]!),
      r.setup,
      latency.cells[i]!,
      ttft.cells[i]!,
      makespan.cells[i]!,
      percent(r.gpuHitRate, 1),
      reference === undefined ? '' : `${(r.speedup[reference] ?? 1).toFixed(2)}x`,
    ]);
    return renderTable(['run', 'setup', latency.head, ttft.head, makespan.head, 'gpu hit', 'vs first setup'], rows);
  }
  const rows = document.runs.flatMap((run) =>
    (run.report as ReplayReport).results.map((r) => [runLabel(grid.runs[run.index]!), formatTokenCount(r.capacityTokens), r.policy, percent(r.hitRate)]),
  );
  return renderTable(['run', 'capacity', 'policy', 'hit rate'], rows);
}

import { type Command } from 'commander';
import { writeFile } from 'node:fs/promises';
import { InputError } from '../errors.js';
import { renderHtmlReport } from '../report/html.js';
import { createProgress } from '../report/progress.js';
import { renderSimTable } from '../report/sim-table.js';
import { simulate } from '../sim/simulate.js';
import { parseBackendChoice } from '../tensor/backend.js';
import { DEFAULT_TENSOR_SCALE } from '../tensor/block-shape.js';
import { renderTensorTable, runTensorPlans } from '../tensor/run-plans.js';
import { TransferRecorder } from '../sim/transfer-plan.js';
import { HARDWARE_FIELDS, SERVING_FIELDS, WORKLOAD_FIELDS, type SimulationSettings } from '../config/simulation-fields.js';
import { resolveSimulation, simulateInputOf } from '../config/simulation-input.js';
import { addFieldOptions } from './config-flags.js';
import { parseNumber } from './flags.js';
import { checkWritable } from './output-paths.js';
import { emit, runCommand } from './run.js';

/** The run's settings (config/simulation-fields.ts), then what to print and write. */
interface SimulateFlags extends SimulationSettings {
  json?: boolean;
  report?: string;
  tensors?: boolean;
  tensorScale?: number;
  backend: string;
}

export function registerSimulate(program: Command): void {
  const command = program
    .command('simulate')
    .description('discrete-event serving simulation: compare setups (sglang, hicache, kvflow, ...) on one workload');
  // The run's settings, one group per concern: the same fields a sweep grid of kind simulate takes.
  addFieldOptions(command, WORKLOAD_FIELDS, 'Workload:');
  addFieldOptions(command, SERVING_FIELDS, 'Serving:');
  addFieldOptions(command, HARDWARE_FIELDS, 'Hardware (over a --config document):');
  command
    .option('--json', 'print one JSON document on stdout')
    .option('--report <file.html>', 'write a self-contained HTML report with plots')
    .option('--tensors', "also run each setup's transfer plan on real KV blocks (tfjs) and compare measured with modelled transfer time")
    .option('--tensor-scale <x>', `with --tensors: share of a real KV block's elements to move, in (0, 1] (default ${DEFAULT_TENSOR_SCALE})`, (v) => parseNumber(v, 0))
    .option('--backend <name>', 'with --tensors: auto | tfjs-node-gpu | tfjs-node | tfjs-cpu', 'auto')
    .action((flags: SimulateFlags) => runCommand(() => simulateCommand(flags)));
}

async function simulateCommand(flags: SimulateFlags): Promise<void> {
  checkWritable(flags.report, '--report');
  if ((flags.workload === undefined) === (flags.trace === undefined)) {
    throw InputError.flag('--workload/--trace', 'give exactly one of --workload SPEC or --trace FILE');
  }
  const backend = parseBackendChoice(flags.backend);
  const plans = flags.tensors ? new Map<string, TransferRecorder>() : undefined;
  const run = await resolveSimulation(flags, { source: 'flags', setupsWhere: '--setup', policyWhere: '--policy' });
  const { workload, hardware, setups } = run;
  const total = workload.requests.length * setups.length;
  const progress = createProgress('simulate', total, { quiet: flags.json ?? false });
  const { report, timelines } = simulate({
    ...simulateInputOf(run),
    onProgress: (done, setupIndex) => progress.update(setupIndex * workload.requests.length + done),
    ...(plans && { observeTransfers: (setup: string) => plans.set(setup, new TransferRecorder()).get(setup)! }),
  });
  progress.stop();
  for (const warning of report.warnings ?? []) process.stderr.write(`kvflow: warning: ${warning}\n`);
  const tensors =
    plans && (await runTensorPlans(plans, { hardware, backend, ...(flags.tensorScale !== undefined && { tensorScale: flags.tensorScale }) }));
  if (tensors) report.tensors = tensors;
  if (flags.report !== undefined) {
    await writeFile(flags.report, await renderHtmlReport(report, timelines, { title: `kvflow simulate: ${String(workload.description.name ?? workload.description.trace)}` }));
  }
  const tables = `${renderSimTable(report)}${tensors ? `\n${renderTensorTable(tensors)}` : ''}`;
  emit(flags.json ? JSON.stringify(report) : `${tables}${flags.report ? `\nreport: ${flags.report}` : ''}`);
}

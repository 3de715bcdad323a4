import { Option, type Command } from 'commander';
import { InputError } from '../errors.js';
import { ENGINE_FIELDS } from '../config/engine-fields.js';
import { serverHardware } from '../config/hardware-input.js';
import { GATEWAY_MODE_NAMES, type GatewayModeName } from '../serve/gateway/gateway-mode.js';
import { resolvePolicy } from '../config/policy-spec.js';
import { engineSetup } from './engine-setup.js';
import { fieldOptions } from './config-flags.js';
import type { SetupSpec } from '../config/setup-spec.js';
import { durationColumn } from '../report/sim-table.js';
import { percent, renderTable } from '../report/table.js';
import { gpuHelp, modelHelp } from '../sim/presets.js';
import { loadWorkflowSpec } from '../workload/spec.js';
import { runComparison, type Comparison } from '../loadgen/emulate-compare.js';
import { runEmulation, type EmulateOptions, type EmulateResult } from '../loadgen/emulate.js';
import { defaultWorkers } from '../worker-script.js';
import { parseInteger, parseNameList, parseNumber, parsePositive } from './flags.js';
import { emit, runCommand } from './run.js';

interface EmulateFlags {
  url?: string;
  workload: string;
  model?: string;
  workflows?: number;
  concurrency?: number;
  duration?: number;
  workers?: number;
  think?: number;
  seed: number;
  stream: boolean;
  timeout: number;
  json?: boolean;
  compare?: boolean;
  engines: number;
  gpu?: string;
  config?: string;
  setup: SetupSpec;
  policy?: string;
  shadowPolicy?: string;
  speed: number;
  modes?: GatewayModeName[];
  policies?: GatewayModeName[];
}

/**
 * `kvflow emulate`: concurrent workflow instances from a spec as real HTTP traffic (piscina worker threads)
 * against a gateway or engine, or `--compare` gateway policies in front of in-process engines.
 */
export function registerEmulate(program: Command): void {
  program
    .command('emulate')
    .description('emulate concurrent workflows as real HTTP traffic against a gateway or engine URL, or compare gateway policies')
    .requiredOption('--workload <spec>', 'workflow spec (JSON) whose instances to run')
    .option('--url <url>', 'OpenAI-compatible server to load (kvflow gateway or engine); not with --compare')
    .option('--model <name>', `model id to request (default: the server's first); with --compare the engines' ${modelHelp()}`)
    .option('--workflows <n>', "workflow instances to run (default: the spec's instances)", (v) => parseInteger(v, 1))
    .option('--concurrency <n>', "instances running at once, closed loop (default: the spec's concurrency)", (v) => parseInteger(v, 1))
    .option('--duration <s>', 'stop sending new steps after this many seconds (default: run every instance to the end)', parsePositive)
    .option('--workers <n>', 'worker threads (default: one per core, at most one per instance running at once; 0: this thread)', (v) => parseInteger(v, 0))
    .option('--think <s>', "seconds between a step's predecessors completing and its request (default: the spec's)", (v) => parseNumber(v, 0))
    .option('--seed <n>', 'seed of branch choices and prompt text', (v) => parseInteger(v, 0), 1)
    .option('--no-stream', 'non-streaming requests (TTFT is then the whole request)')
    .option('--timeout <ms>', 'per-request timeout', (v) => parseInteger(v, 1), 600_000)
    .option('--json', 'print one JSON document on stdout')
    .option('--compare', 'start engines and a gateway in-process per gateway policy, run the same load through each, print the ratio')
    .option('--engines <n>', 'with --compare: engines behind the gateway', (v) => parseInteger(v, 1), 1)
    .option('--gpu <name>', `with --compare: engines' ${gpuHelp()} (default A10G)`)
    .option('--config <file>', "with --compare: engines' hardware config file")
    .addOption(fieldOptions({ ...ENGINE_FIELDS.setup, description: `with --compare: engines' ${ENGINE_FIELDS.setup.description}` })[0]!)
    .option('--policy <name>', "with --compare: the engines' eviction policy, a registered name or a policy file (./my-policy.js); default the setup's")
    .option('--shadow-policy <name>', "with --compare: the gateway shadow trees' eviction policy (default each mode's)")
    .option('--speed <x>', "with --compare: engines' model seconds per wall second", parsePositive, 20)
    .addOption(
      new Option('--modes <list>', `with --compare: gateway modes, the first is the reference (${GATEWAY_MODE_NAMES.join(', ')}) (default: ${GATEWAY_MODE_NAMES.join(',')})`)
        .argParser((v) => parseNameList(v, GATEWAY_MODE_NAMES)),
    )
    .addOption(new Option('--policies <list>', 'old name of --modes').argParser((v) => parseNameList(v, GATEWAY_MODE_NAMES)).hideHelp())
    .action((flags: EmulateFlags) => runCommand(() => emulateCommand(flags)));
}

async function emulateCommand(flags: EmulateFlags): Promise<void> {
  if (flags.compare === (flags.url !== undefined)) {
    throw InputError.flag('--url/--compare', 'give either --url URL (load a running server) or --compare (start engines and gateways here)');
  }
  const spec = await loadWorkflowSpec(flags.workload);
  const workflows = flags.workflows ?? spec.instances;
  const concurrency = flags.concurrency ?? (spec.arrival.kind === 'closed' ? spec.arrival.concurrency : workflows);
  const lanes = Math.min(concurrency, workflows);
  const base: Omit<EmulateOptions, 'url'> = {
    spec,
    seed: flags.seed,
    workflows,
    concurrency,
    workers: flags.workers ?? defaultWorkers(lanes),
    ...(flags.duration !== undefined && { durationSeconds: flags.duration }),
    ...(flags.think !== undefined && { think: flags.think }),
    stream: flags.stream,
    requestTimeoutMs: flags.timeout,
  };
  const config = {
    workload: { spec: flags.workload, name: spec.name, seed: flags.seed },
    workflows,
    concurrency,
    workers: base.workers,
    durationSeconds: flags.duration ?? null,
    think: base.think ?? spec.think,
    stream: flags.stream,
  };
  if (flags.compare) {
    const setup = await engineSetup(flags.setup, flags.policy);
    const hardware = await serverHardware(
      {
        ...(flags.gpu !== undefined && { gpu: flags.gpu }),
        ...(flags.model !== undefined && { model: flags.model }),
        ...(flags.config !== undefined && { config: flags.config }),
        ...(setup.engine !== undefined && { engine: setup.engine }),
      },
      spec.blockSize,
    );
    const shadowPolicy = flags.shadowPolicy === undefined ? undefined : await resolvePolicy(flags.shadowPolicy, { where: '--shadow-policy', online: true });
    const comparison = await runComparison({
      ...base,
      hardware,
      engines: flags.engines,
      engineSetup: setup,
      speed: flags.speed,
      modes: flags.modes ?? flags.policies ?? [...GATEWAY_MODE_NAMES],
      ...(shadowPolicy && { shadowPolicy: shadowPolicy.create }),
      onMode: (mode) => {
        if (!flags.json && process.stderr.isTTY) process.stderr.write(`emulate: gateway mode ${mode}...\n`);
      },
    });
    const compareConfig = { ...config, engines: flags.engines, gpu: hardware.gpu.name, model: hardware.model.name, setup: setup.name, speed: flags.speed };
    const heading =
      `emulate --compare: ${workloadLine(config)}; ${plural(flags.engines, 'engine')} (${hardware.gpu.name}, ${hardware.model.name}, ` +
      `setup ${setup.name}, ${flags.speed}x speed) behind a gateway per mode`;
    emit(flags.json ? JSON.stringify({ config: compareConfig, ...comparison }) : `${heading}\n${renderComparison(comparison, flags.speed)}`);
    return;
  }
  const result = await runEmulation({ ...base, url: flags.url!, ...(flags.model !== undefined && { model: flags.model }) });
  const heading = `emulate: ${workloadLine(config)} against ${flags.url!}`;
  emit(flags.json ? JSON.stringify({ config: { url: flags.url, ...config }, results: [result] }) : `${heading}\n${renderResults([result], ['target'], [[result.target]])}`);
}

/** `workload sequential-10 (workloads/sequential-10.json, seed 1), 10 workflows, 4 at a time`. */
function workloadLine(config: { workload: { spec: string; name: string; seed: number }; workflows: number; concurrency: number }): string {
  const { workload } = config;
  return `workload ${workload.name} (${workload.spec}, seed ${workload.seed}), ${plural(config.workflows, 'workflow')}, ${config.concurrency} at a time`;
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

function renderResults(results: readonly EmulateResult[], labelHead: string[], labels: string[][], extra?: { head: string; cells: string[] }): string {
  const times = [
    durationColumn('workflow mean', results.map((r) => (r.workflows > 0 ? r.workflowLatency.mean : null))),
    durationColumn('e2e p50', results.map((r) => r.e2e.p50)),
    durationColumn('e2e p99', results.map((r) => r.e2e.p99)),
    durationColumn('ttft p50', results.map((r) => r.ttft.p50)),
    durationColumn('ttft p99', results.map((r) => r.ttft.p99)),
    durationColumn('tpot p50', results.map((r) => r.tpot.p50)),
    durationColumn('makespan', results.map((r) => r.makespan)),
  ];
  const head = [...labelHead, 'requests', 'workflows', 'errors', ...times.map((column) => column.head), 'req/s', 'cached', ...(extra ? [extra.head] : [])];
  const rows = results.map((r, i) => [
    ...labels[i]!,
    r.requests,
    r.incompleteWorkflows > 0 ? `${r.workflows} (+${r.incompleteWorkflows} cut)` : r.workflows,
    r.errors,
    ...times.map((column) => column.cells[i]!),
    r.throughput.requestsPerSecond.toFixed(1),
    r.gpuHitRate === null ? '-' : percent(r.gpuHitRate, 1),
    ...(extra ? [extra.cells[i]!] : []),
  ]);
  const table = renderTable(head, rows);
  const errors = results.flatMap((r) => Object.entries(r.errorKinds).map(([kind, count]) => `${kind} x${count}`));
  return errors.length > 0 ? `${table}\nerrors: ${errors.join(', ')}` : table;
}

function renderComparison(comparison: Comparison, speed: number): string {
  const reference = comparison.results[0]!.mode;
  const table = renderResults(
    comparison.results,
    ['gateway mode'],
    comparison.results.map((r) => [r.mode]),
    { head: `speedup vs ${reference}`, cells: comparison.results.map((r) => `${comparison.ratio[r.mode]!.workflowLatency.toFixed(2)}x`) },
  );
  return `${table}\nwall-clock times; engines run at ${speed}x, so model seconds = wall seconds x ${speed}. speedup = ${reference}'s mean workflow latency / this mode's.`;
}

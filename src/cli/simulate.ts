import { Option, type Command } from 'commander';
import { writeFile } from 'node:fs/promises';
import { InputError } from '../errors.js';
import { renderHtmlReport } from '../report/html.js';
import { createProgress } from '../report/progress.js';
import { renderSimTable } from '../report/sim-table.js';
import { ENGINE_NAMES, EVICT_GRANULARITIES, LOAD_MODES, WRITE_POLICIES, type LoadMode } from '../sim/engine-profile.js';
import { hardwareFor } from '../sim/hardware.js';
import { gpuHelp, modelHelp } from '../sim/presets.js';
import { ROUTER_NAMES } from '../sim/router.js';
import { SETUP_NAMES, type SetupName } from '../sim/setups.js';
import { parseSetupSpec, resolveSetups, type SetupSpec } from '../config/setup-spec.js';
import { policyListHelp } from './policy-flags.js';
import { MAX_REPLICAS, SERVING_DEFAULTS, servingOptions, simulate, type ServingOptions } from '../sim/simulate.js';
import { parseBackendChoice } from '../tensor/backend.js';
import { DEFAULT_TENSOR_SCALE } from '../tensor/block-shape.js';
import { renderTensorTable, runTensorPlans } from '../tensor/run-plans.js';
import { TransferRecorder } from '../sim/transfer-plan.js';
import { parseByteCount, parseByteRate, parseFraction, parseInteger, parseName, parseNameList, parseNumber, parseSessionsStartFlag, parseTokens } from './flags.js';
import { SESSIONS_START_HELP, type SessionsStart } from '../workload/sessions-start.js';
import { FORMAT_CHOICES } from '../workload/read.js';
import { checkWritable } from './output-paths.js';
import { InvalidArgumentError } from 'commander';

function parseReplicas(text: string): number {
  const replicas = parseInteger(text, 1);
  if (replicas > MAX_REPLICAS) throw new InvalidArgumentError(`"${text}" is more than ${MAX_REPLICAS} replicas`);
  return replicas;
}
import { emit, runCommand } from './run.js';
import { GRAPH_SOURCES, loadWorkload, withGraph, type GraphSource } from '../config/workload-input.js';

/** Serving flags whose defaults depend on the engine, the GPU or the workload: filled by `servingOptions`. */
type ResolvedLater = 'tokenBudget' | 'mixedChunk' | 'writePolicy' | 'evictGranularity' | 'warmupRounds';
type ServingFlags = Omit<ServingOptions, ResolvedLater> & Partial<Pick<ServingOptions, ResolvedLater>>;

interface SimulateFlags extends ServingFlags {
  workload?: string;
  trace?: string;
  format: (typeof FORMAT_CHOICES)[number];
  blockSize?: number;
  skipInvalid?: boolean;
  tokenizer?: string;
  graph?: GraphSource;
  sessionsStart?: SessionsStart;
  setups: SetupName[];
  setup?: SetupSpec[];
  policy?: string[];
  gpu?: string;
  model?: string;
  seed: number;
  config?: string;
  mfu?: number;
  bandwidthEfficiency?: number;
  iterationOverhead?: number;
  memoryFraction?: number;
  h2dBandwidth?: number;
  d2hBandwidth?: number;
  cpuPoolBytes?: number;
  linkLatency?: number;
  linkConcurrency?: number;
  activationReserveBytes?: number;
  gpuCount?: number;
  engine?: string;
  loadMode?: LoadMode;
  hostCopyBandwidth?: number;
  syncLatency?: number;
  cudaGraphMaxBs?: number;
  json?: boolean;
  report?: string;
  tensors?: boolean;
  tensorScale?: number;
  backend: string;
}

export function registerSimulate(program: Command): void {
  program
    .command('simulate')
    .description('discrete-event serving simulation: compare setups (sglang, hicache, kvflow, ...) on one workload')
    .option('--workload <spec>', 'workflow spec (JSON) expanded into closed-loop requests with --seed')
    .option('--trace <file>', 'trace file (kvflow or Mooncake JSONL): open loop by t, closed loop by after')
    .option('--format <format>', `trace format: ${FORMAT_CHOICES.join(' | ')}`, (v) => parseName(v, FORMAT_CHOICES), 'auto')
    .option('--block-size <n>', 'tokens per block for trace lines that give none', (v) => parseInteger(v, 1))
    .option('--skip-invalid', 'skip and count invalid trace lines')
    .option('--tokenizer <name>', 'tokenizer of text traces (lmcache): a model preset (Llama-3.1-8B, Llama-3.1-70B, Qwen2.5-32B), a tokenizer.json path, or cl100k_base (default Llama-3.1-8B)')
    .option('--sessions-start <mode>', `re-time sessions, each keeping its own gaps and order: ${SESSIONS_START_HELP} (docs/sessions-start.md)`, parseSessionsStartFlag)
    .option('--graph <source>', 'STE from: declared (the spec), learned (online from the requests), none; default: declared for --workload, none for --trace', (v) => parseName(v, GRAPH_SOURCES))
    .addOption(
      new Option('--setups <list>', `setups to compare, comma list of ${SETUP_NAMES.join(', ')}`)
        .argParser((v) => parseNameList(v, SETUP_NAMES))
        .default(['sglang', 'hicache', 'kvflow'], 'sglang,hicache,kvflow'),
    )
    .option(
      '--setup <definition>',
      'one more setup from parts, e.g. name=mine,policy=./p.js,cpu=on,prefetch=ste[,status-aware=on][,base=kvflow] (repeatable)',
      (v: string, previous: SetupSpec[] | undefined) => [...(previous ?? []), parseSetupSpec(v, '--setup')],
    )
    .option('--policy <list>', `one more GPU-only setup per eviction policy, named after it: ${policyListHelp()}`, (v: string) => v.split(','))
    .option('--gpu <name>', `${gpuHelp()} (default A10G)`)
    .option('--model <name>', `${modelHelp()} (default Llama-3.1-8B)`)
    .option('--replicas <n>', `engine replicas (1 to ${MAX_REPLICAS})`, parseReplicas, SERVING_DEFAULTS.replicas)
    .option('--router <name>', `request routing across replicas: ${ROUTER_NAMES.join(', ')}`, (v) => parseName(v, ROUTER_NAMES), SERVING_DEFAULTS.router)
    .option('--schedule <name>', 'admission order: fcfs | lpm (longest prefix match first)', (v) => parseName(v, ['fcfs', 'lpm'] as const), SERVING_DEFAULTS.schedule)
    .option('--engine <name>', `engine profile: ${ENGINE_NAMES.join(' | ')} (default sglang-0.4: SGLang v0.4's scheduler and HiCache; ideal: kvflow's idealised engine)`, (v) => parseName(v, ENGINE_NAMES))
    .option('--token-budget <n>', 'most prompt tokens prefilled per iteration (chunked prefill; default sglang-0.4: SGLang\'s chunked_prefill_size for the GPU, ideal: 8192)', (v) => parseTokens(v, 1))
    .option('--mixed-chunk', 'prefill chunks and decodes share an iteration (default for ideal)')
    .option('--no-mixed-chunk', 'separate prefill and decode batches (default for sglang-0.4)')
    .option('--write-policy <name>', `CPU tier fill: ${WRITE_POLICIES.join(' | ')} (default sglang-0.4: write_through_selective, ideal: write_through)`, (v) => parseName(v, WRITE_POLICIES))
    .option('--evict-granularity <name>', `GPU eviction unit: ${EVICT_GRANULARITIES.join(' | ')} (default sglang-0.4: node, ideal: page)`, (v) => parseName(v, EVICT_GRANULARITIES))
    .option('--warmup-rounds <n>', 'leading rounds of every workflow left out of the latency figures and speedups (default 1 for --workload, 0 for --trace)', (v) => parseInteger(v, 0))
    .option('--load-mode <name>', `sglang-0.4 host load path: ${LOAD_MODES.join(' | ')} (direct: v0.4's CPU gather + pageable copy per layer; kernel: PR #7313's gather kernel)`, (v) => parseName(v, LOAD_MODES))
    .option('--host-copy-bandwidth <bytes/s>', 'bytes/s one CPU thread gathers host KV at (sglang-0.4 direct load path; 12e9, 12G)', parseByteRate)
    .option('--sync-latency <s>', 'seconds of each layer\'s copy call and synchronisation (sglang-0.4)', (v) => parseNumber(v, 0))
    .option('--cuda-graph-max-bs <n>', 'largest decode batch replayed as a CUDA graph (sglang-0.4; default SGLang\'s for the GPU)', (v) => parseInteger(v, 1))
    .option('--max-running <n>', 'most requests running at once per replica', (v) => parseInteger(v, 1), SERVING_DEFAULTS.maxRunning)
    .option('--load-ahead <n>', 'kvflow prefetches agents at most this many steps away', (v) => parseInteger(v, 0), SERVING_DEFAULTS.loadAhead)
    .option('--time-scale <x>', 'multiply open-loop arrival times by x', (v) => parseNumber(v, 0), SERVING_DEFAULTS.timeScale)
    .option('--seed <n>', 'seed for workload generation and --sessions-start poisson', (v) => parseInteger(v, 0), 1)
    .option('--config <file>', 'hardware/cost-model JSON (see workloads/configs/); flags win over it')
    .option('--mfu <x>', 'model FLOPs utilisation in (0, 1]', parseFraction)
    .option('--bandwidth-efficiency <x>', 'share of peak HBM bandwidth reached, in (0, 1]', parseFraction)
    .option('--iteration-overhead <s>', 'seconds added to every engine iteration', (v) => parseNumber(v, 0))
    .option('--memory-fraction <x>', 'share of GPU memory for weights + KV pool, in (0, 1]', parseFraction)
    .option('--h2d-bandwidth <bytes/s>', 'host-to-device link bandwidth (25e9, 25G = 25 GiB/s, 25GB/s)', parseByteRate)
    .option('--d2h-bandwidth <bytes/s>', 'device-to-host link bandwidth (25e9, 25G = 25 GiB/s, 25GB/s)', parseByteRate)
    .option('--cpu-pool-bytes <bytes>', 'CPU KV tier size (default 2x the GPU KV pool; 64G, 64GiB)', (v) => parseByteCount(v, 0))
    .option('--link-latency <s>', 'seconds added to every host-link transfer, both directions', (v) => parseNumber(v, 0))
    .option('--link-concurrency <n>', 'transfers in flight per link direction', (v) => parseInteger(v, 1))
    .option('--activation-reserve-bytes <bytes>', 'per-GPU memory kept out of the KV pool (bytes; 2G)', (v) => parseByteCount(v, 0))
    .option('--gpu-count <n>', 'GPUs per replica (tensor parallel; default the model preset)', (v) => parseInteger(v, 1))
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
  const workload = withGraph(await loadWorkload(flags), flags.graph);
  const hardware = await hardwareFor(flags, workload.blockSize, 'flags');
  const serving = servingOptions(flags, { hardware, workload: flags.workload !== undefined ? 'spec' : 'trace' });
  const setups = await resolveSetups([...flags.setups, ...(flags.setup ?? [])], flags.policy ?? [], {
    where: '--setup',
    policyWhere: '--policy',
  });
  const total = workload.requests.length * setups.length;
  const progress = createProgress('simulate', total, { quiet: flags.json ?? false });
  const { report, timelines } = simulate({
    requests: workload.requests,
    setups,
    hardware,
    serving,
    ...(workload.steSource && { steSource: workload.steSource }),
    ...(workload.rounds && { rounds: workload.rounds }),
    workload: workload.description,
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

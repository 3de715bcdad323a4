/**
 * One configuration model: `kvflow simulate`'s flags, the sweep grid's simulate fields and the hardware
 * document layering all come from the field tables in src/config/simulation-fields.ts.
 */
import { Command } from 'commander';
import { join } from 'node:path';
import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { integer, tableSchema, type ConfigField } from '../../src/config/field.js';
import { layerSettings } from '../../src/config/hardware-input.js';
import { resolveSimulation } from '../../src/config/simulation-input.js';
import { HARDWARE_DOCUMENT_PATHS, HARDWARE_FIELDS, SIMULATION_FIELDS, type SimulationSettings } from '../../src/config/simulation-fields.js';
import { addFieldOptions } from '../../src/cli/config-flags.js';
import { registerSimulate } from '../../src/cli/simulate.js';
import { parseHardwareOverrides } from '../../src/sim/hardware.js';
import { parseSweepGrid } from '../../src/sweep/sweep-grid.js';
import { REPO } from '../helpers/sim.js';

/** Flags of `simulate` that say what to print or write, not what to run: a grid writes one JSON document. */
const OUTPUT_FLAGS = ['json', 'report', 'tensors', 'tensorScale', 'backend'];

/**
 * One value per field, as a flag and as a grid field. A field added to the tables needs a sample here
 * (the first test says which are missing), so its flag and grid forms are checked to mean the same.
 */
const SAMPLES: Record<string, { flag: string[]; grid: unknown }> = {
  workload: { flag: ['--workload', 'workloads/sequential-10.json'], grid: 'workloads/sequential-10.json' },
  trace: { flag: ['--trace', 'workloads/traces/mooncake_conversation.excerpt.jsonl'], grid: 'workloads/traces/mooncake_conversation.excerpt.jsonl' },
  format: { flag: ['--format', 'kvflow'], grid: 'kvflow' },
  blockSize: { flag: ['--block-size', '32'], grid: 32 },
  skipInvalid: { flag: ['--skip-invalid'], grid: true },
  tokenizer: { flag: ['--tokenizer', 'cl100k_base'], grid: 'cl100k_base' },
  sessionsStart: { flag: ['--sessions-start', 'poisson:2'], grid: 'poisson:2' },
  graph: { flag: ['--graph', 'learned'], grid: 'learned' },
  seed: { flag: ['--seed', '7'], grid: 7 },
  setups: { flag: ['--setups', 'sglang,kvflow'], grid: ['sglang', 'kvflow'] },
  setup: { flag: ['--setup', 'name=mine,policy=lfu,cpu=on'], grid: ['name=mine,policy=lfu,cpu=on'] },
  policy: { flag: ['--policy', 'lru,belady'], grid: ['lru', 'belady'] },
  replicas: { flag: ['--replicas', '3'], grid: 3 },
  router: { flag: ['--router', 'least-load'], grid: 'least-load' },
  schedule: { flag: ['--schedule', 'fcfs'], grid: 'fcfs' },
  tokenBudget: { flag: ['--token-budget', '4k'], grid: '4k' },
  mixedChunk: { flag: ['--no-mixed-chunk'], grid: false },
  writePolicy: { flag: ['--write-policy', 'write_back'], grid: 'write_back' },
  evictGranularity: { flag: ['--evict-granularity', 'page'], grid: 'page' },
  warmupRounds: { flag: ['--warmup-rounds', '0'], grid: 0 },
  maxRunning: { flag: ['--max-running', '64'], grid: 64 },
  loadAhead: { flag: ['--load-ahead', '3'], grid: 3 },
  timeScale: { flag: ['--time-scale', '0.5'], grid: 0.5 },
  config: { flag: ['--config', 'workloads/configs/h100-pcie5.json'], grid: 'workloads/configs/h100-pcie5.json' },
  gpu: { flag: ['--gpu', 'h100'], grid: 'h100' },
  model: { flag: ['--model', 'Qwen/Qwen2.5-32B-Instruct'], grid: 'Qwen/Qwen2.5-32B-Instruct' },
  engine: { flag: ['--engine', 'ideal'], grid: 'ideal' },
  loadMode: { flag: ['--load-mode', 'kernel'], grid: 'kernel' },
  hostCopyBandwidth: { flag: ['--host-copy-bandwidth', '8G'], grid: '8G' },
  syncLatency: { flag: ['--sync-latency', '0.00002'], grid: 0.00002 },
  cudaGraphMaxBs: { flag: ['--cuda-graph-max-bs', '80'], grid: 80 },
  mfu: { flag: ['--mfu', '0.6'], grid: 0.6 },
  bandwidthEfficiency: { flag: ['--bandwidth-efficiency', '0.7'], grid: 0.7 },
  iterationOverhead: { flag: ['--iteration-overhead', '0.002'], grid: 0.002 },
  memoryFraction: { flag: ['--memory-fraction', '0.85'], grid: 0.85 },
  h2dBandwidth: { flag: ['--h2d-bandwidth', '25GB/s'], grid: '25GB/s' },
  d2hBandwidth: { flag: ['--d2h-bandwidth', '2e10'], grid: 2e10 },
  cpuPoolBytes: { flag: ['--cpu-pool-bytes', '64G'], grid: '64G' },
  linkLatency: { flag: ['--link-latency', '0.001'], grid: 0.001 },
  linkConcurrency: { flag: ['--link-concurrency', '2'], grid: 2 },
  activationReserveBytes: { flag: ['--activation-reserve-bytes', '2G'], grid: '2G' },
  gpuCount: { flag: ['--gpu-count', '2'], grid: 2 },
};

/** The real `simulate` command, its action replaced by one that hands back the parsed flags. */
async function simulateFlags(args: string[]): Promise<Record<string, unknown>> {
  const program = new Command().exitOverride();
  registerSimulate(program);
  let flags: Record<string, unknown> = {};
  program.commands[0]!.exitOverride().action((parsed: Record<string, unknown>) => {
    flags = parsed;
  });
  await program.parseAsync(['simulate', ...args], { from: 'user' });
  return flags;
}

/** The config of the one run of a grid whose base is `base` (paths relative to the repository; a workload unless it names one). */
function gridConfig(base: Record<string, unknown>): Record<string, unknown> {
  const input = base.workload === undefined && base.trace === undefined ? { workload: 'workloads/sequential-10.json', ...base } : base;
  const grid = parseSweepGrid({ name: 't', kind: 'simulate', base: input }, join(REPO, 'grid.json'));
  return grid.runs[0]!.config as Record<string, unknown>;
}

function simulateCommand(): Command {
  const program = new Command();
  registerSimulate(program);
  return program.commands[0]!;
}

describe('simulate flags and sweep-grid fields', () => {
  it('every simulate flag but the output ones is a field of the tables, and every field has a sample', () => {
    const attributes = simulateCommand().options.map((option) => option.attributeName());
    const runFlags = [...new Set(attributes)].filter((name) => !OUTPUT_FLAGS.includes(name));
    expect(runFlags.sort()).toEqual(Object.keys(SIMULATION_FIELDS).sort());
    expect(Object.keys(SIMULATION_FIELDS).filter((name) => !(name in SAMPLES))).toEqual([]);
  });

  it('every field means the same as a flag and as a grid field', async () => {
    for (const [name, sample] of Object.entries(SAMPLES)) {
      const fromFlag = (await simulateFlags(sample.flag))[name];
      const fromGrid = gridConfig({ [name]: sample.grid })[name];
      expect(fromGrid, name).toEqual(fromFlag);
      expect(fromGrid, name).not.toBeUndefined();
    }
  });

  it('the grid takes the fields it used to reject, and a run from them resolves as the flags do', async () => {
    const base = { workload: 'workloads/sequential-10.json', setups: ['sglang'], linkLatency: 0.002, linkConcurrency: 3, gpuCount: 2, activationReserveBytes: '512M', engine: 'ideal' };
    const args = ['--workload', 'workloads/sequential-10.json', '--setups', 'sglang', '--link-latency', '0.002', '--link-concurrency', '3', '--gpu-count', '2', '--activation-reserve-bytes', '512M', '--engine', 'ideal'];
    const context = { source: 'test', setupsWhere: 'setups', policyWhere: 'policy' };
    const fromGrid = await resolveSimulation(gridConfig(base) as SimulationSettings, context);
    const fromFlags = await resolveSimulation((await simulateFlags(args)) as SimulationSettings, context);
    expect(fromGrid.hardware).toEqual(fromFlags.hardware);
    expect(fromGrid.serving).toEqual(fromFlags.serving);
    expect(fromGrid.hardware.h2d).toMatchObject({ latency: 0.002, concurrency: 3 });
    expect(fromGrid.hardware.d2h).toMatchObject({ latency: 0.002, concurrency: 3 });
    expect(fromGrid.hardware.gpuCount).toBe(2);
    expect(fromGrid.hardware.activationReserveBytes).toBe(512 * 2 ** 20);
  });

  it('every hardware coefficient lands where the --config document has that field', () => {
    const settings = Object.fromEntries(
      Object.keys(HARDWARE_DOCUMENT_PATHS).map((name) => [name, gridConfig({ [name]: SAMPLES[name]!.grid })[name]]),
    );
    const document = parseHardwareOverrides(layerSettings({}, settings), 'layered') as Record<string, Record<string, unknown>>;
    expect(document.h2d).toEqual({ bandwidth: 25 * 2 ** 30, latency: 0.001, concurrency: 2 });
    expect(document.d2h).toEqual({ bandwidth: 2e10, latency: 0.001, concurrency: 2 });
    expect(document.loadPath).toEqual({ mode: 'kernel', hostCopyBandwidth: 8 * 2 ** 30, syncLatency: 0.00002 });
    expect(document.gpuCount).toBe(2);
    expect(Object.keys(HARDWARE_FIELDS).filter((name) => !(name in HARDWARE_DOCUMENT_PATHS))).toEqual(['config', 'gpu', 'model']);
  });
});

describe('a field added to a table', () => {
  const extra = { extraKnob: { flag: '--extra-knob <n>', description: 'a knob a user added', ...integer(0), default: 4 } satisfies ConfigField<number> };

  it('is a flag in --help, with its default, and parses', () => {
    const command = addFieldOptions(new Command('simulate').exitOverride(), { ...SIMULATION_FIELDS, ...extra }, 'Settings:');
    expect(command.helpInformation()).toMatch(/--extra-knob <n>\s+a knob a user added \(default: 4\)/);
    command.parse(['--extra-knob', '9'], { from: 'user' });
    expect(command.opts().extraKnob).toBe(9);
    expect(() => command.parse(['--extra-knob', '-1'], { from: 'user' })).toThrow(/is not an integer >= 0/);
  });

  it('is a document field with the same check and default', () => {
    const schema = tableSchema(z, { ...SIMULATION_FIELDS, ...extra }, { defaults: true });
    expect(schema.parse({ extraKnob: 2 })).toMatchObject({ extraKnob: 2, seed: 1, replicas: 1 });
    expect(schema.parse({})).toMatchObject({ extraKnob: 4 });
    expect(schema.safeParse({ extraKnob: -1 }).success).toBe(false);
    expect(schema.shape.extraKnob!.description).toBe('a knob a user added');
  });

  it('every field of the real tables is in the real simulate --help', () => {
    const help = simulateCommand().helpInformation();
    for (const field of Object.values(SIMULATION_FIELDS) as ConfigField[]) expect(help, field.flag).toContain(field.flag);
    for (const heading of ['Workload:', 'Serving:', 'Hardware']) expect(help).toContain(heading);
  });
});

import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import {
  HARDWARE_DEFAULTS,
  describeHardware,
  parseHardwareOverrides,
  readHardwareConfigFile,
  resolveHardware,
  type HardwareInput,
} from '../../src/sim/hardware.js';
import { GPU_NAMES, GPUS, LINKS, MODEL_NAMES, MODELS } from '../../src/sim/presets.js';

const CONFIGS = 'workloads/configs';

/** The message `resolveHardware` throws for `input`, which must be an InputError. */
function problem(input: HardwareInput): string {
  try {
    resolveHardware(input);
  } catch (error) {
    expect(error).toBeInstanceOf(InputError);
    return (error as InputError).message;
  }
  throw new Error('expected an InputError');
}

describe('presets', () => {
  it('are keyed by their exact, case-sensitive names', () => {
    expect(MODEL_NAMES).toEqual(['Llama-3.1-8B', 'Qwen2.5-32B', 'Llama-3.1-70B']);
    expect(GPU_NAMES).toEqual(['A10G', 'L4', 'A100-80G', 'H100-SXM', 'H200']);
    for (const [key, preset] of [...Object.entries(MODELS), ...Object.entries(GPUS), ...Object.entries(LINKS)]) {
      expect(preset.name).toBe(key);
    }
  });

  it('give every GPU a default link that exists', () => {
    for (const gpu of Object.values(GPUS)) expect(LINKS[gpu.defaultLink]).toBeDefined();
    expect(GPUS.A10G.defaultLink).toBe('pcie-gen1-a10g');
    expect(GPUS['H100-SXM'].defaultLink).toBe('pcie-gen5');
  });
});

describe('resolveHardware', () => {
  it('defaults to the sglang-0.4 engine: SGLang v0.4 pool formula and small-GPU defaults on the A10G', () => {
    const hw = resolveHardware();
    expect(hw.engine).toBe('sglang-0.4');
    // server_args.py: mem_fraction_static 0.88 at TP 1, no reserve beyond it; CUDA reports 23028 MiB.
    expect(hw).toMatchObject({ memoryFraction: 0.88, activationReserveBytes: 0, cudaGraphMaxBs: 8 });
    expect(hw.cpuPoolBytes).toBe(2 * (23028 * 2 ** 20 * 0.88 - 8_030_261_248 * 2));
    expect(resolveHardware({ gpu: 'H100-SXM' }).cudaGraphMaxBs).toBe(160);
    expect(resolveHardware({ gpu: 'H100-SXM', model: 'Llama-3.1-70B' }).memoryFraction).toBe(0.85);
  });

  it('defaults to the paper setup: Llama-3.1-8B on one A10G behind a 2 GB/s link (ideal engine)', () => {
    const hw = resolveHardware({ engine: 'ideal' });
    expect(hw.model).toEqual(MODELS['Llama-3.1-8B']);
    expect(hw.gpu).toEqual(GPUS.A10G);
    expect(hw).toMatchObject({
      gpuCount: 1,
      memoryFraction: 0.9,
      activationReserveBytes: 2 ** 30,
      mfu: 0.5,
      bandwidthEfficiency: 0.8,
      iterationOverhead: 0.004,
      h2d: { bandwidth: 2e9, latency: 7e-6, concurrency: 4 },
      d2h: { bandwidth: 2e9, latency: 7e-6, concurrency: 4 },
      blockSize: 16,
    });
    expect(hw.cpuPoolBytes).toBe(2 * (24e9 * 0.9 - 8_030_261_248 * 2 - 2 ** 30));
  });

  it('uses the model tensor parallelism as the GPU count and the GPU default link', () => {
    const hw = resolveHardware({ gpu: 'H100-SXM', model: 'Llama-3.1-70B' });
    expect(hw.gpuCount).toBe(4);
    expect(hw.h2d).toEqual({ bandwidth: 64e9, latency: 7e-6, concurrency: 4 });
    expect(resolveHardware({ gpu: 'L4' }).h2d.bandwidth).toBe(25e9);
  });

  it('applies a config object over presets and defaults', () => {
    const hw = resolveHardware({
      overrides: {
        gpu: 'H100-SXM',
        model: 'Qwen2.5-32B',
        mfu: 0.4,
        h2d: { bandwidth: 3e10 },
        gpuPreset: { memoryBytes: 94e9, name: 'H100-NVL' },
        modelPreset: { tensorParallel: 2 },
        blockSize: 64,
        cpuPoolBytes: 1e11,
      },
      source: 'cfg.json',
    });
    expect(hw.gpu).toEqual({ ...GPUS['H100-SXM'], memoryBytes: 94e9, name: 'H100-NVL' });
    expect(hw.model).toEqual({ ...MODELS['Qwen2.5-32B'], tensorParallel: 2 });
    expect(hw.gpuCount).toBe(2);
    expect(hw.mfu).toBe(0.4);
    expect(hw.h2d).toEqual({ bandwidth: 3e10, latency: 7e-6, concurrency: 4 });
    expect(hw.d2h).toEqual({ bandwidth: 64e9, latency: 7e-6, concurrency: 4 });
    expect(hw.blockSize).toBe(64);
    expect(hw.cpuPoolBytes).toBe(1e11);
    expect(hw.memoryFraction).toBe(0.87); // SGLang's default at TP 2
  });

  it('lets a gpuPreset override pick another default link', () => {
    const hw = resolveHardware({ overrides: { gpuPreset: { defaultLink: 'pcie-gen4' } } });
    expect(hw.d2h.bandwidth).toBe(25e9);
  });

  it('lets flag values win over config-file values', () => {
    const hw = resolveHardware({ gpu: 'L4', model: 'Llama-3.1-8B', overrides: { gpu: 'H200', model: 'Qwen2.5-32B' } });
    expect(hw.gpu.name).toBe('L4');
    expect(hw.model.name).toBe('Llama-3.1-8B');
  });

  it('lists the accepted names for an unknown GPU or model flag, with the nearest one', () => {
    expect(problem({ gpu: 'B200', source: 'cfg.json' })).toBe('--gpu: unknown "B200" (did you mean H200? accepted: A10G, L4, A100-80G, H100-SXM, H200)');
    expect(problem({ gpu: 'TPUv5' })).toBe('--gpu: unknown "TPUv5" (accepted: A10G, L4, A100-80G, H100-SXM, H200)');
    expect(problem({ gpu: 'H101' })).toBe('--gpu: unknown "H101" (did you mean h100? accepted: A10G, L4, A100-80G, H100-SXM, H200)');
    expect(problem({ model: 'llama' })).toBe('--model: unknown "llama" (accepted: Llama-3.1-8B, Qwen2.5-32B, Llama-3.1-70B)');
    expect(problem({ model: 'Qwen2.5-23B' })).toMatch(/^--model: unknown "Qwen2.5-23B" \(did you mean Qwen2.5-32B\? accepted: /);
  });

  it('takes GPU and model names in any case, aliases and Hugging Face ids', () => {
    const names = (gpu: string, model: string) => {
      const hw = resolveHardware({ gpu, overrides: { model } });
      return `${hw.gpu.name} ${hw.model.name}`;
    };
    expect(names('a10g', 'meta-llama/Llama-3.1-8B-Instruct')).toBe('A10G Llama-3.1-8B');
    expect(names('H100', 'Qwen/Qwen2.5-32B-Instruct')).toBe('H100-SXM Qwen2.5-32B');
    expect(resolveHardware({ gpu: 'NVIDIA H100 80GB HBM3', model: 'Qwen/Qwen2.5-32B-Instruct' }).model.name).toBe('Qwen2.5-32B');
    expect(resolveHardware({ gpu: 'h200', model: 'meta-llama/Meta-Llama-3.1-70B-Instruct' }).model.name).toBe('Llama-3.1-70B');
    expect(resolveHardware({ overrides: { gpu: 'a100', model: 'llama-3.1-8b' } }).gpu.name).toBe('A100-80G');
    // A quantised or other model keeps its own shapes: not silently taken for a preset.
    expect(problem({ model: 'Qwen/Qwen2.5-32B-Instruct-AWQ' })).toMatch(/^--model: unknown "Qwen\/Qwen2.5-32B-Instruct-AWQ"/);
  });

  it('reports a model that does not fit', () => {
    expect(problem({ gpu: 'A10G', model: 'Llama-3.1-70B' })).toMatch(/^model Llama-3\.1-70B does not fit on 4 x A10G: /);
    expect(problem({ gpu: 'H100-SXM', overrides: { model: 'Llama-3.1-70B', gpuCount: 1 } })).toMatch(
      /does not fit on 1 x H100-SXM/,
    );
  });
});

describe('bad config documents', () => {
  const cases: [string, unknown, string][] = [
    ['an unknown top-level key', { mfuu: 0.5 }, 'cfg.json: mfuu: unknown field (did you mean mfu? accepted: description, engine, gpu, model, gpuCount, '],
    ['an unknown nested key', { h2d: { bw: 1 } }, 'cfg.json: h2d.bw: unknown field (accepted: bandwidth, latency, concurrency)'],
    ['a negative bandwidth', { h2d: { bandwidth: -1 } }, 'cfg.json: h2d.bandwidth: expected a number > 0, got -1'],
    ['a negative overhead', { iterationOverhead: -0.001 }, 'cfg.json: iterationOverhead: expected a number >= 0, got -0.001'],
    ['a string for a number', { memoryFraction: 'high' }, 'cfg.json: memoryFraction: expected a number in (0, 1], got "high"'],
    ['a fraction above 1', { mfu: 1.5 }, 'cfg.json: mfu: expected a number in (0, 1], got 1.5'],
    ['a fractional integer', { blockSize: 1.5 }, 'cfg.json: blockSize: expected an integer >= 1, got 1.5'],
    ['an unknown model preset field', { modelPreset: { vocab: 1 } }, 'cfg.json: modelPreset.vocab: unknown field (accepted: name, params, '],
    ['a bad model preset value', { modelPreset: { layers: 0 } }, 'cfg.json: modelPreset.layers: expected an integer >= 1, got 0'],
    ['an unknown link name', { gpuPreset: { defaultLink: 'nvlink' } }, 'cfg.json: gpuPreset.defaultLink: unknown "nvlink" (accepted: pcie-gen1-a10g, pcie-gen4, pcie-gen5)'],
    ['an unknown GPU name', { gpu: 'X' }, 'cfg.json: gpu: unknown "X" (accepted: A10G, L4, A100-80G, H100-SXM, H200)'],
    ['a GPU name of the wrong type', { gpu: 3 }, 'cfg.json: gpu: expected a name, got 3'],
    ['a link that is not an object', { d2h: 5 }, 'cfg.json: d2h: expected an object, got 5'],
    ['a document that is not an object', [1], 'cfg.json: (root): expected an object, got an array'],
  ];

  it.each(cases)('reports %s as file: path: problem', (_, overrides, message) => {
    expect(problem({ overrides, source: 'cfg.json' }).startsWith(message)).toBe(true);
  });

  it('names an unnamed document "config"', () => {
    expect(() => parseHardwareOverrides({ mfu: 0 })).toThrow('config: mfu: expected a number in (0, 1], got 0');
  });
});

describe('describeHardware', () => {
  it('is JSON-able and, without `derived`, a config document that reproduces the hardware', () => {
    const hw = resolveHardware({ gpu: 'H200', model: 'Qwen2.5-32B', overrides: { mfu: 0.45, h2d: { concurrency: 8 } } });
    const described = describeHardware(hw);
    expect(JSON.parse(JSON.stringify(described))).toEqual(described);
    const { derived, ...config } = described;
    expect(resolveHardware({ overrides: config })).toEqual(hw);
    expect(derived).toMatchObject({ kvBytesPerToken: 262144, pageBytes: 262144 * 16 });
  });
});

describe('config files', () => {
  it('reads every bundled example and resolves it', async () => {
    const files = (await readdir(CONFIGS)).filter((name) => name.endsWith('.json'));
    expect(files).toEqual(expect.arrayContaining(['a10g-llama8b.json', 'h100-pcie5.json']));
    for (const name of files) {
      const path = join(CONFIGS, name);
      const overrides = await readHardwareConfigFile(path);
      expect(() => resolveHardware({ overrides, source: path })).not.toThrow();
    }
  });

  it('documents exactly the defaults in a10g-llama8b.json', async () => {
    const path = join(CONFIGS, 'a10g-llama8b.json');
    expect(resolveHardware({ overrides: await readHardwareConfigFile(path), source: path })).toEqual(resolveHardware());
  });

  it('puts Qwen2.5-32B on an H100 behind the 64 GB/s link in h100-pcie5.json', async () => {
    const path = join(CONFIGS, 'h100-pcie5.json');
    const hw = resolveHardware({ overrides: await readHardwareConfigFile(path), source: path });
    expect(hw.gpu.name).toBe('H100-SXM');
    expect(hw.model.name).toBe('Qwen2.5-32B');
    expect(hw.h2d.bandwidth).toBe(64e9);
  });

  it('reports a missing file and invalid JSON', async () => {
    await expect(readHardwareConfigFile('no/such/config.json')).rejects.toThrow('no/such/config.json: no such file');
    await expect(readHardwareConfigFile('vitest.config.ts')).rejects.toThrow(/^vitest\.config\.ts: \(root\): invalid JSON: /);
  });
});

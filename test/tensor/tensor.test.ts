import { beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { parseHardwareOverrides, resolveHardware } from '../../src/sim/hardware.js';
import { MODELS } from '../../src/sim/presets.js';
import { calibrateLink, fitLatencyBandwidth, measureBandwidth } from '../../src/tensor/bandwidth.js';
import { BACKEND_NAMES, parseBackendChoice, selectBackend, type TensorBackend } from '../../src/tensor/backend.js';
import { BlockMover } from '../../src/tensor/block-mover.js';
import { kvBlockShape, type KvBlockShape } from '../../src/tensor/block-shape.js';
import { DeviceBlockStore, HostBlockStore } from '../../src/tensor/block-store.js';
import { blockChecksum } from '../../src/tensor/checksum.js';
import { Limiter } from '../../src/tensor/limiter.js';
import { executeTransferPlan } from '../../src/tensor/plan-executor.js';
import { renderTensorTable } from '../../src/tensor/run-plans.js';
import { TransferRecorder } from '../../src/sim/transfer-plan.js';

const LLAMA = MODELS['Llama-3.1-8B'];
/** Small blocks keep the suite fast: 1 layer, head_dim 8 -> 2 x 8 x 16 x 8 floats = 8 KiB. */
const SMALL: KvBlockShape = kvBlockShape(LLAMA, 16, 1 / 512);

let backend: TensorBackend;
let baseline: number;
beforeAll(async () => {
  backend = await selectBackend('auto');
  baseline = backend.tf.memory().numTensors;
});

function expectNoLeaks(): void {
  expect(backend.tf.memory().numTensors).toBe(baseline);
}

function rig(blocks: number, concurrency = 2) {
  const host = new HostBlockStore(SMALL, 2 * blocks * SMALL.bytes);
  const device = new DeviceBlockStore(backend.tf, SMALL, blocks * SMALL.bytes);
  const mover = new BlockMover(backend, host, device, { h2dConcurrency: concurrency, d2hConcurrency: concurrency });
  for (let slot = 0; slot < blocks; slot++) host.fill(slot, 1000 + slot);
  const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);
  return { host, device, mover, range };
}

describe('backend selection', () => {
  it('falls back in order and records why each earlier backend failed', () => {
    const names = backend.tried.map((attempt) => attempt.name);
    expect(names).toEqual(BACKEND_NAMES.slice(0, names.length));
    expect(backend.tried.at(-1)).toEqual({ name: backend.name, ok: true });
    for (const attempt of backend.tried.slice(0, -1)) {
      expect(attempt.ok).toBe(false);
      expect(attempt.error).toMatch(/\S/);
    }
    expect(backend.devices.length).toBeGreaterThan(0);
  });

  it('rejects an unknown --backend naming the accepted ones', () => {
    expect(() => parseBackendChoice('cuda')).toThrow(InputError);
    expect(() => parseBackendChoice('cuda')).toThrow('--backend: unknown "cuda" (accepted: auto, tfjs-node-gpu, tfjs-node, tfjs-cpu)');
    expect(parseBackendChoice('tfjs-cpu')).toBe('tfjs-cpu');
  });

  it('says why a requested backend cannot load', async () => {
    const gpu = backend.tried.find((attempt) => attempt.name === 'tfjs-node-gpu');
    if (gpu?.ok !== false) return; // this machine has it
    await expect(selectBackend('tfjs-node-gpu')).rejects.toThrow(`--backend: tfjs-node-gpu cannot load (tfjs-node-gpu: ${gpu.error})`);
  });

  it('always loads the pure-JS CPU backend on request', async () => {
    const cpu = await selectBackend('tfjs-cpu');
    expect(cpu.tried).toEqual([{ name: 'tfjs-cpu', ok: true }]);
  });
});

describe('KV block shape', () => {
  it('follows the model preset: [layers, 2, kv_heads, block_size, head_dim]', () => {
    const full = kvBlockShape(LLAMA, 16, 1);
    expect(full.shape).toEqual([32, 2, 8, 16, 128]);
    expect(full.modelBytes).toBe(16 * 128 * 1024); // 128 KiB per token in BF16
    expect(full.bytes).toBe(2 * full.modelBytes); // float32 tensors
    expect(kvBlockShape(LLAMA, 16, 1 / 16).shape).toEqual([2, 2, 8, 16, 128]);
    expect(SMALL.shape).toEqual([1, 2, 8, 16, 8]);
    expect(SMALL.scale).toBeCloseTo(1 / 512, 10);
  });

  it('rejects a scale outside (0, 1]', () => {
    expect(() => kvBlockShape(LLAMA, 16, 0)).toThrow('--tensor-scale: expected a number in (0, 1], got 0');
    expect(() => kvBlockShape(LLAMA, 16, 2)).toThrow(InputError);
  });
});

describe('block stores', () => {
  it('refuse a capacity too small for one block', () => {
    expect(() => new HostBlockStore(SMALL, SMALL.bytes - 1)).toThrow(InputError);
    expect(() => new DeviceBlockStore(backend.tf, SMALL, 100, 'device store')).toThrow(
      'device store: 100 bytes cannot hold one KV block of 8192 bytes (shape 1x2x8x16x8); give it more bytes or lower --tensor-scale',
    );
  });

  it('round-trips blocks host -> device -> host bit for bit, and leaks no tensor', async () => {
    const { host, device, mover, range } = rig(8);
    const up = await mover.toDevice(range(0, 8), range(0, 8));
    expect(up).toMatchObject({ blocks: 8, bytes: 8 * SMALL.bytes, cancelled: false });
    const down = await mover.toHost(range(0, 8), range(8, 8));
    expect(down.blocks).toBe(8);
    for (let slot = 0; slot < 8; slot++) {
      expect(await device.verify(slot)).toBe(true);
      expect(host.verify(8 + slot)).toBe(true);
      expect(blockChecksum(host.view(8 + slot))).toBe(blockChecksum(host.view(slot)));
      expect(host.view(8 + slot)).toEqual(host.view(slot));
    }
    expect(device.used).toBe(8);
    device.dispose();
    expect(device.used).toBe(0);
    expectNoLeaks();
  });

  it('detects a changed bit', async () => {
    const { host, device, mover, range } = rig(2);
    await mover.toDevice(range(0, 2), range(0, 2));
    await mover.toHost(range(0, 2), range(2, 2));
    host.view(3)[100] = host.view(3)[100]! + 2 ** -20;
    expect(host.verify(3)).toBe(false);
    // The device copy is independent of host memory, even on the pure-JS backend.
    host.view(0)[0] = 42;
    expect(await device.verify(0)).toBe(true);
    device.dispose();
    expectNoLeaks();
  });

  it('overwriting a device slot disposes the old tensor', async () => {
    const { device, mover, range } = rig(4);
    for (let i = 0; i < 3; i++) await mover.toDevice(range(0, 4), [0, 1, 0, 1]);
    expect(device.used).toBe(2);
    expect(backend.tf.memory().numTensors).toBe(baseline + 2);
    device.dispose();
    expectNoLeaks();
  });
});

describe('copies: bounded concurrency and cancellation', () => {
  it('never runs more than the limit at once', async () => {
    const limiter = new Limiter(3);
    let running = 0;
    let peak = 0;
    await Promise.all(
      Array.from({ length: 20 }, () =>
        limiter.run(async () => {
          peak = Math.max(peak, ++running);
          await new Promise((resolve) => setTimeout(resolve, 1));
          running--;
        }),
      ),
    );
    expect(peak).toBe(3);
  });

  it('cancels a copy before it starts, while it waits for a stream, and between blocks', async () => {
    const { host: hostOf, device, mover, range } = rig(16, 1);
    const aborted = AbortSignal.abort();
    expect(await mover.toDevice(range(0, 4), range(0, 4), aborted)).toMatchObject({ blocks: 0, cancelled: true });

    const controller = new AbortController();
    const first = mover.toDevice(range(0, 8), range(0, 8));
    const queued = mover.toDevice(range(8, 8), range(8, 8), controller.signal);
    controller.abort();
    expect((await first).blocks).toBe(8);
    expect(await queued).toMatchObject({ blocks: 0, cancelled: true });

    const midway = new AbortController();
    const copy = mover.toHost(range(0, 8), range(16, 8), midway.signal);
    // Abort as soon as the first block has landed in host slot 16.
    for (let spins = 0; hostOf.expected(16) === undefined; spins++) {
      if (spins > 1_000_000) throw new Error('the first block never landed in host slot 16');
      await Promise.resolve();
    }
    midway.abort();
    const result = await copy;
    expect(result.cancelled).toBe(true);
    expect(result.blocks).toBeGreaterThan(0);
    expect(result.blocks).toBeLessThan(8);
    device.dispose();
    expectNoLeaks();
  });
});

describe('bandwidth', () => {
  it('measures both directions on real blocks and leaks nothing', async () => {
    const bandwidth = await measureBandwidth(backend, SMALL, { blocks: 8, rounds: 2 });
    expect(bandwidth.h2d).toBeGreaterThan(0);
    expect(bandwidth.d2h).toBeGreaterThan(0);
    expectNoLeaks();
  });

  it('calibrates link parameters that a --config file accepts', async () => {
    const link = await calibrateLink(backend, SMALL, { maxBlocks: 16, rounds: 2, concurrencies: [1, 2] });
    for (const direction of ['h2d', 'd2h'] as const) {
      expect(link[direction].bandwidth).toBeGreaterThan(0);
      expect(link[direction].latency).toBeGreaterThanOrEqual(0);
      expect([1, 2]).toContain(link[direction].concurrency);
    }
    const config = { description: 'test', h2d: link.h2d, d2h: link.d2h };
    expect(resolveHardware({ overrides: parseHardwareOverrides(config) }).h2d).toEqual(link.h2d);
    expectNoLeaks();
  });

  it('fits latency and bandwidth from timings', () => {
    const samples = [1, 2, 4, 8].map((n) => ({ bytes: n * 1e6, seconds: 1e-5 + (n * 1e6) / 2e9 }));
    const fit = fitLatencyBandwidth(samples);
    expect(fit.bandwidth).toBeCloseTo(2e9, -3);
    expect(fit.latency).toBeCloseTo(1e-5, 9);
  });
});

describe('executing a transfer plan', () => {
  const hardware = resolveHardware({ gpu: 'A10G', model: 'Llama-3.1-8B' });
  const page = SMALL.modelBytes;

  it('moves every issued page, verifies it, and compares with the link model', async () => {
    const plan = new TransferRecorder();
    plan.h2d.issued(3 * page, 0, 0.01);
    plan.h2d.issued(5 * page, 0.01, 0.02);
    plan.h2d.cancelled(4 * page);
    plan.d2h.issued(2 * page, 0.005, 0.006);
    const report = await executeTransferPlan('kvflow', plan, {
      backend,
      block: SMALL,
      link: { h2d: hardware.h2d, d2h: hardware.d2h },
      hostBytes: 4 * SMALL.bytes, // smaller than the plan: the ring wraps
      deviceBytes: 3 * SMALL.bytes,
    });
    expect(report.h2d).toMatchObject({ transfers: 2, pages: 8, cancelled: 1, executedPages: 8, verified: true });
    expect(report.h2d.measuredBytes).toBe(8 * SMALL.bytes);
    expect(report.h2d.modelledBytes).toBe(8 * page);
    expect(report.h2d.modelledSeconds).toBeCloseTo(2 * hardware.h2d.latency + (8 * page) / hardware.h2d.bandwidth, 12);
    expect(report.h2d.projectedSeconds).toBeCloseTo(report.h2d.modelledBytes / report.h2d.measuredBandwidth!, 9);
    expect(report.h2d.ratio).toBeCloseTo(report.h2d.projectedSeconds! / report.h2d.modelledSeconds, 9);
    expect(report.d2h).toMatchObject({ transfers: 1, pages: 2, cancelled: 0, verified: true });
    expect(report.leakedTensors).toBe(0);
    expect(renderTensorTable([report])).toContain('kvflow');
    expectNoLeaks();
  });

  it('stops at maxPages, uploads untimed blocks for a d2h-only plan, and handles an empty plan', async () => {
    const plan = new TransferRecorder();
    for (let i = 0; i < 10; i++) plan.d2h.issued(4 * page, i, i + 1);
    const options = { backend, block: SMALL, link: { h2d: hardware.h2d, d2h: hardware.d2h }, maxPages: 12 };
    const report = await executeTransferPlan('hicache', plan, options);
    expect(report.d2h).toMatchObject({ transfers: 10, pages: 40, executedTransfers: 3, executedPages: 12, verified: true });
    expect(report.h2d).toMatchObject({ transfers: 0, measuredBandwidth: null, ratio: null });
    const empty = await executeTransferPlan('sglang', new TransferRecorder(), options);
    expect(empty.d2h.transfers).toBe(0);
    expect(renderTensorTable([empty])).toContain('no transfers');
    expectNoLeaks();
  });
});

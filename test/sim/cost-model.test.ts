import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { CostModel, kvBytesPerToken, type IterationBatch } from '../../src/sim/cost-model.js';
import { resolveHardware } from '../../src/sim/hardware.js';
import { MODELS } from '../../src/sim/presets.js';

const GiB = 2 ** 30;
const LLAMA_8B_PARAMS = 8_030_261_248;

/** Llama-3.1-8B on one A10G with every default: the paper's headline setup. */
function a10gLlama8b(overrides: Record<string, unknown> = {}): CostModel {
  return new CostModel(resolveHardware({ engine: 'ideal', gpu: 'A10G', model: 'Llama-3.1-8B', overrides }));
}

describe('KV and weight sizes', () => {
  it('gives 2 * layers * kvHeads * headDim * dtypeBytes per token', () => {
    expect(kvBytesPerToken(MODELS['Llama-3.1-8B'])).toBe(2 * 32 * 8 * 128 * 2); // 131072 = 128 KiB
    expect(kvBytesPerToken(MODELS['Qwen2.5-32B'])).toBe(2 * 64 * 8 * 128 * 2); // 262144 = 256 KiB
    expect(kvBytesPerToken(MODELS['Llama-3.1-70B'])).toBe(2 * 80 * 8 * 128 * 2); // 327680 = 320 KiB
    expect(kvBytesPerToken(MODELS['Llama-3.1-8B'])).toBe(131072);
    expect(kvBytesPerToken(MODELS['Qwen2.5-32B'])).toBe(262144);
  });

  it('keeps the per-token total under tensor parallelism (the heads are split, not the bytes)', () => {
    const costs = new CostModel(resolveHardware({ engine: 'ideal', gpu: 'H100-SXM', model: 'Llama-3.1-70B' }));
    expect(costs.hardware.gpuCount).toBe(4);
    expect(costs.kvBytesPerToken).toBe(327680);
    expect(costs.weightBytes).toBe(70_553_706_496 * 2);
  });
});

describe('memory pools', () => {
  it('sizes the A10G + Llama-3.1-8B GPU pool from the default fraction and reserve', () => {
    const costs = a10gLlama8b();
    const usable = 1 * 24e9 * 0.9; // gpuCount * memoryBytes * memoryFraction = 21.6e9
    const weights = LLAMA_8B_PARAMS * 2; // 16_060_522_496
    const reserve = 1 * GiB; // gpuCount * activationReserveBytes
    const poolBytes = usable - weights - reserve; // 4_465_735_680
    const pageBytes = 131072 * 16; // kvBytesPerToken * blockSize = 2 MiB
    expect(costs.gpuPoolBytes).toBe(poolBytes);
    expect(costs.pageBytes).toBe(pageBytes);
    expect(costs.gpuPoolPages).toBe(Math.floor(poolBytes / pageBytes));
    expect(costs.gpuPoolPages).toBe(2129); // 34064 tokens: about four of the paper's 8192-token agents
  });

  it('sizes the sglang-0.4 pool as SGLang does: CUDA-reported memory x mem_fraction_static - weights', () => {
    const costs = new CostModel(resolveHardware({ engine: 'sglang-0.4', gpu: 'A10G', model: 'Llama-3.1-8B' }));
    const poolBytes = 23028 * 2 ** 20 * 0.88 - LLAMA_8B_PARAMS * 2; // 5.19 GB
    expect(costs.gpuPoolBytes).toBe(poolBytes);
    expect(costs.gpuPoolPages).toBe(2474); // 39584 tokens
  });

  it('charges a CUDA-graph decode under sglang-0.4 no launch overhead, up to cuda_graph_max_bs', () => {
    const costs = new CostModel(resolveHardware({ engine: 'sglang-0.4' }));
    const decode = (n: number) => ({ prefill: [], decode: Array.from({ length: n }, () => ({ contextTokens: 1000 })) });
    expect(costs.iterationSeconds(decode(8))).toBe(costs.forwardSeconds(decode(8)));
    expect(costs.iterationSeconds(decode(9))).toBeCloseTo(costs.forwardSeconds(decode(9)) + 0.004, 12);
    const prefill = { prefill: [{ newTokens: 100, contextTokens: 0 }], decode: [] };
    expect(costs.iterationSeconds(prefill)).toBeCloseTo(costs.forwardSeconds(prefill) + 0.004, 12);
  });

  it('gives the CPU pool twice the GPU pool by default (HiCache ratio 2)', () => {
    const costs = a10gLlama8b();
    expect(costs.cpuPoolPages).toBe(Math.floor((2 * costs.gpuPoolBytes) / costs.pageBytes));
    expect(a10gLlama8b({ cpuPoolBytes: 10 * costs.pageBytes + 1 }).cpuPoolPages).toBe(10);
  });

  it('splits nothing when the model does not fit', () => {
    const tooSmall = { ...resolveHardware({ engine: 'ideal' }), model: MODELS['Llama-3.1-70B'] };
    expect(() => new CostModel(tooSmall)).toThrow(InputError);
    expect(() => new CostModel(tooSmall)).toThrow(/^model Llama-3\.1-70B does not fit on 1 x A10G: 141\.1 GB of weights/);
  });
});

describe('iteration time (roofline)', () => {
  const A10G_FLOPS = 70e12 * 1 * 0.5; // peakFlops * gpuCount * mfu
  const A10G_BYTES = 600e9 * 1 * 0.8; // hbmBandwidth * gpuCount * bandwidthEfficiency
  const OVERHEAD = 0.004;
  const ATTENTION_PER_PAIR = 4 * 32 * 32 * 128; // 4 * layers * heads * headDim

  it('costs nothing for an empty batch', () => {
    expect(a10gLlama8b().iterationSeconds({ prefill: [], decode: [] })).toBe(0);
  });

  it('makes a decode step on A10G memory-bound: about weights / (bw * eff) + overhead', () => {
    const costs = a10gLlama8b();
    const context = 1000;
    const seconds = costs.iterationSeconds({ prefill: [], decode: [{ contextTokens: context }] });
    const bytes = LLAMA_8B_PARAMS * 2 + (context + 1) * 131072; // weights + KV read + KV written
    expect(seconds).toBeCloseTo(bytes / A10G_BYTES + OVERHEAD, 12);
    expect(seconds).toBeCloseTo((LLAMA_8B_PARAMS * 2) / A10G_BYTES + OVERHEAD, 3); // ~37.5 ms
    const flops = 2 * LLAMA_8B_PARAMS + ATTENTION_PER_PAIR * context;
    expect(flops / A10G_FLOPS).toBeLessThan(bytes / A10G_BYTES / 10);
  });

  it('makes a large prefill compute-bound: about 2 * params * n / (peak * mfu)', () => {
    const costs = a10gLlama8b();
    const n = 2048;
    const seconds = costs.prefillSeconds(n, 0);
    const flops = 2 * LLAMA_8B_PARAMS * n + ATTENTION_PER_PAIR * n * ((n + 1) / 2);
    expect(seconds).toBeCloseTo(flops / A10G_FLOPS + OVERHEAD, 12);
    const linearOnly = (2 * LLAMA_8B_PARAMS * n) / A10G_FLOPS; // ~0.94 s; attention adds ~3%
    expect(seconds / linearOnly).toBeGreaterThan(1);
    expect(seconds / linearOnly).toBeLessThan(1.05);
  });

  it('lets a chunk after cached context attend to c + (n + 1) / 2 tokens per query', () => {
    const costs = a10gLlama8b();
    const seconds = costs.prefillSeconds(512, 8192);
    const flops = 2 * LLAMA_8B_PARAMS * 512 + ATTENTION_PER_PAIR * 512 * (8192 + 513 / 2);
    expect(seconds).toBeCloseTo(flops / A10G_FLOPS + OVERHEAD, 12);
  });

  it('sums prefill chunks and decodes of a mixed batch into one roofline', () => {
    const costs = a10gLlama8b();
    const batch: IterationBatch = {
      prefill: [{ newTokens: 256, contextTokens: 1024 }],
      decode: [{ contextTokens: 100 }, { contextTokens: 300 }],
    };
    const newTokens = 256 + 2;
    const pairs = 256 * (1024 + 257 / 2) + 100 + 300;
    const flops = 2 * LLAMA_8B_PARAMS * newTokens + ATTENTION_PER_PAIR * pairs;
    const bytes = LLAMA_8B_PARAMS * 2 + (1024 + 100 + 300 + newTokens) * 131072;
    const expected = Math.max(flops / A10G_FLOPS, bytes / A10G_BYTES) + OVERHEAD;
    expect(costs.iterationSeconds(batch)).toBeCloseTo(expected, 12);
  });

  it('scales both rates with the GPU count under tensor parallelism', () => {
    const costs = new CostModel(resolveHardware({ engine: 'ideal', gpu: 'H100-SXM', model: 'Llama-3.1-70B' }));
    const decode = costs.iterationSeconds({ prefill: [], decode: [{ contextTokens: 0 }] });
    const bytes = 70_553_706_496 * 2 + 327680;
    expect(decode).toBeCloseTo(bytes / (3350e9 * 4 * 0.8) + OVERHEAD, 12);
  });

  it('never gets cheaper when work is added to a batch', () => {
    const costs = a10gLlama8b();
    const chunk = fc.record({ newTokens: fc.integer({ min: 1, max: 4096 }), contextTokens: fc.integer({ min: 0, max: 32768 }) });
    const step = fc.record({ contextTokens: fc.integer({ min: 0, max: 32768 }) });
    const batch = fc.record({ prefill: fc.array(chunk, { maxLength: 4 }), decode: fc.array(step, { maxLength: 32 }) });
    fc.assert(
      fc.property(batch, chunk, step, (b, extraChunk, extraStep) => {
        const base = costs.iterationSeconds(b);
        expect(costs.iterationSeconds({ ...b, prefill: [...b.prefill, extraChunk] })).toBeGreaterThanOrEqual(base);
        expect(costs.iterationSeconds({ ...b, decode: [...b.decode, extraStep] })).toBeGreaterThanOrEqual(base);
      }),
    );
  });
});

describe('decode iterations priced from a running total', () => {
  it('gives forwardSeconds of the decode batch exactly, whatever the model and GPU', () => {
    const machines = [
      ['Llama-3.1-8B', 'A10G'],
      ['Llama-3.1-8B', 'H100-SXM'],
      ['Qwen2.5-32B', 'H100-SXM'],
      ['Llama-3.1-70B', 'H100-SXM'],
    ] as const;
    fc.assert(
      fc.property(
        fc.constantFrom(...machines),
        fc.array(fc.integer({ min: 1, max: 200_000 }), { minLength: 1, maxLength: 300 }),
        ([model, gpu], contexts) => {
          const costs = new CostModel(resolveHardware({ engine: 'ideal', gpu, model }));
          const total = contexts.reduce((sum, context) => sum + context, 0);
          const batch = { prefill: [], decode: contexts.map((contextTokens) => ({ contextTokens })) };
          expect(costs.decodeForwardSeconds(contexts.length, total)).toBe(costs.forwardSeconds(batch));
        },
      ),
      { seed: 1414, numRuns: 200 },
    );
    expect(a10gLlama8b().decodeForwardSeconds(0, 0)).toBe(0);
  });
});

describe('transfers and load-vs-recompute', () => {
  it('costs latency + bytes / bandwidth per direction', () => {
    const costs = a10gLlama8b({ d2h: { bandwidth: 4e9, latency: 1e-3 } });
    expect(costs.transferSeconds(GiB, 'h2d')).toBeCloseTo(7e-6 + GiB / 2e9, 15); // ~0.537 s on the paper's link
    expect(costs.transferSeconds(GiB, 'd2h')).toBeCloseTo(1e-3 + GiB / 4e9, 15);
    expect(costs.transferSeconds(0, 'h2d')).toBe(7e-6);
  });

  it('loads an agent prompt back on the A10G rather than recomputing it', () => {
    const costs = a10gLlama8b();
    const pages = 8192 / 16; // one 8192-token fixed prompt: 1 GiB of KV
    expect(costs.transferSeconds(pages * costs.pageBytes, 'h2d')).toBeCloseTo(0.537, 3);
    expect(costs.marginalPrefillSeconds(8192, 0)).toBeGreaterThan(4); // ~4.3 s of compute
    expect(costs.loadIsCheaper(pages, 0)).toBe(true);
  });

  it('counts only the extra FLOPs and KV traffic as the marginal cost of recomputing', () => {
    const costs = a10gLlama8b();
    const flops = 2 * LLAMA_8B_PARAMS * 16 + 4 * 32 * 32 * 128 * 16 * (100 + 17 / 2);
    const bytes = (100 + 16) * 131072;
    expect(costs.marginalPrefillSeconds(16, 100)).toBeCloseTo(Math.max(flops / 35e12, bytes / 480e9), 15);
    expect(costs.marginalPrefillSeconds(0, 100)).toBe(0);
  });

  it('recomputes when the link is slow enough', () => {
    const slowLink = a10gLlama8b({ h2d: { bandwidth: 1e6 } });
    expect(slowLink.loadIsCheaper(512, 0)).toBe(false);
    expect(a10gLlama8b().loadIsCheaper(0, 0)).toBe(false);
  });
});

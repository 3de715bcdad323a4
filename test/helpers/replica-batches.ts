/**
 * Shared by the replica tests that state an exact schedule: each priced iteration as text, the real cost model
 * recording what it prices, and requests of whole blocks.
 */
import { expect } from 'vitest';
import { PageState, ROOT, type RadixCache } from '../../src/cache/radix-cache.js';
import type { CostModel, IterationBatch } from '../../src/sim/cost-model.js';
import type { EngineCost } from '../../src/sim/replica.js';
import { SimRequest } from '../../src/sim/sim-request.js';

/** One iteration as text: its prefill chunks as `P<new>@<context>`, then its decodes as `D<context>`. */
export function describeBatch(batch: IterationBatch): string {
  const parts: string[] = [];
  for (let i = 0; i < (batch.prefillCount ?? batch.prefill.length); i++) parts.push(`P${batch.prefill[i]!.newTokens}@${batch.prefill[i]!.contextTokens}`);
  for (let i = 0; i < (batch.decodeCount ?? batch.decode.length); i++) parts.push(`D${batch.decode[i]!.contextTokens}`);
  return parts.join(' ');
}

/** `model`, recording each iteration it prices into `batches`; `loadIsCheaper` may be overridden. */
export function recordingCost(
  model: CostModel,
  batches: string[],
  loadIsCheaper = (pages: number, context: number) => model.loadIsCheaper(pages, context),
): EngineCost {
  return {
    pageBytes: model.pageBytes,
    iterationSeconds: (batch) => {
      batches.push(describeBatch(batch));
      return model.iterationSeconds(batch);
    },
    forwardSeconds: (batch) => model.forwardSeconds(batch),
    overheadSeconds: (batch) => model.overheadSeconds(batch),
    loadIsCheaper,
  };
}

/** A maker of requests of whole `blockSize`-token blocks, indexed in the order made. */
export function wholeBlockRequests(blockSize: number) {
  let nextIndex = 0;
  /** A request of whole blocks, the first `fixed` of them its agent's fixed prompt. */
  return (id: string, blocks: number[], agent?: string, options: { output?: number; fixed?: number } = {}): SimRequest =>
    new SimRequest(
      {
        id,
        blocks,
        blockSize,
        inputLength: blocks.length * blockSize,
        outputLength: options.output ?? 1,
        ...(agent !== undefined && { agent, fixedBlocks: options.fixed ?? blocks.length }),
      },
      nextIndex++,
      agent,
    );
}

/**
 * Puts `blocks` in the cache under `parent` (the root by default) as CPU-only pages (written through, then
 * evicted from the GPU, leaf first); returns their page ids in path order.
 */
export function cpuOnlyPrompt(cache: RadixCache, blocks: number[], parent = ROOT): number[] {
  const pages: number[] = [];
  for (const block of blocks) {
    parent = cache.insertGpu(parent, block, 0);
    pages.push(parent);
    expect(cache.startWrite(parent)).toBe(true);
    cache.finishWrite(parent);
  }
  for (let i = pages.length - 1; i >= 0; i--) expect(cache.evictGpuPage(pages[i]!)).toBe(true);
  for (const page of pages) expect(cache.stateOf(page)).toBe(PageState.cpu);
  return pages;
}

import { policyFactory } from '../../src/cache/policy-registry.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NeedsSortError, replayStream } from '../../src/replay/replay-stream.js';
import { replaySuite } from '../../src/replay/replay-suite.js';
import { POLICY_NAMES, type TraceRequest } from '../../src/types.js';
import { readTrace, streamTraceBatches } from '../../src/workload/read.js';
import { requireTrace } from '../helpers/requirements.js';

const MOONCAKE = requireTrace('mooncake_conversation_trace.jsonl');

async function* each<T>(items: readonly T[]): AsyncGenerator<T> {
  for (const item of items) yield item;
}

/** The items as a stream may hand them out: a size 0 yields one item alone, a size n a batch of n (sizes cycle). */
async function* batched<T>(items: readonly T[], sizes: readonly number[]): AsyncGenerator<T | T[]> {
  for (let i = 0, s = 0; i < items.length; s++) {
    const size = sizes[s % sizes.length]!;
    if (size === 0) yield items[i++]!;
    else {
      yield items.slice(i, i + size);
      i += size;
    }
  }
}

const withoutSeconds = (results: { seconds: number }[]) => results.map((r) => ({ ...r, seconds: 0 }));

describe('one-pass streaming replay', () => {
  it.skipIf(!MOONCAKE)('gives exactly the in-memory results on the Mooncake trace', async () => {
    // reuse is covered by the random traces below and by test/cache/reuse-policy.test.ts; here it would triple the time.
    const options = { policies: POLICY_NAMES.filter((p) => p !== 'reuse').map(policyFactory), capacities: [2 ** 20, 2 ** 24, null] };
    // A chunk of the file at a time, as `kvflow replay` reads it (request by request: the random traces below).
    const streamed = await replayStream(MOONCAKE, streamTraceBatches(MOONCAKE), options);
    const inMemory = replaySuite(await readTrace(MOONCAKE), options);
    expect(streamed.trace).toEqual(inMemory.trace);
    expect(withoutSeconds(streamed.results)).toEqual(withoutSeconds(inMemory.results));
  });

  it('agrees with the in-memory replay on random traces, for every policy', async () => {
    const request = fc.record({
      blocks: fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 6 }),
      last: fc.integer({ min: 1, max: 4 }),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(request, { minLength: 1, maxLength: 50 }), fc.integer({ min: 1, max: 12 }), fc.array(fc.nat(7), { minLength: 1, maxLength: 4 }), async (raw, slots, sizes) => {
        const requests: TraceRequest[] = raw.map((r, i) => ({
          id: String(i),
          t: i,
          blocks: r.blocks,
          blockSize: 4,
          inputLength: (r.blocks.length - 1) * 4 + r.last,
          outputLength: 1,
        }));
        const options = { policies: POLICY_NAMES.map(policyFactory), capacities: [slots * 4, null] };
        const inMemory = replaySuite({ path: 'x', format: 'kvflow', requests, skipped: 0 }, options);
        expect(withoutSeconds((await replayStream('x', each(requests), options)).results)).toEqual(withoutSeconds(inMemory.results));
        // One at a time and in batches of any size, mixed: the same replay.
        expect(withoutSeconds((await replayStream('x', batched(requests, sizes), options)).results)).toEqual(withoutSeconds(inMemory.results));
      }),
      { numRuns: 100 },
    );
  });

  it('refuses a stream whose arrival times go backwards (the replay order needs a sort)', async () => {
    const request = (id: string, t: number): TraceRequest => ({ id, t, blocks: [1], blockSize: 16, inputLength: 16, outputLength: 1 });
    await expect(replayStream('x', each([request('a', 2), request('b', 1)]), { policies: [policyFactory('lru')], capacities: [null] })).rejects.toBeInstanceOf(NeedsSortError);
    await expect(replayStream('x', each([[request('a', 2), request('b', 1)]]), { policies: [policyFactory('lru')], capacities: [null] })).rejects.toBeInstanceOf(NeedsSortError);
  });
});

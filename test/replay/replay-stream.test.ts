import { policyFactory } from '../../src/cache/policy-registry.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NeedsSortError, replayStream } from '../../src/replay/replay-stream.js';
import { replaySuite } from '../../src/replay/replay-suite.js';
import { POLICY_NAMES, type TraceRequest } from '../../src/types.js';
import { readTrace, streamTrace } from '../../src/workload/trace.js';
import { requireTrace } from '../helpers/requirements.js';

const MOONCAKE = requireTrace('mooncake_conversation_trace.jsonl');

async function* each<T>(items: readonly T[]): AsyncGenerator<T> {
  for (const item of items) yield item;
}

const withoutSeconds = (results: { seconds: number }[]) => results.map((r) => ({ ...r, seconds: 0 }));

describe('one-pass streaming replay', () => {
  it.skipIf(!MOONCAKE)('gives exactly the in-memory results on the Mooncake trace', async () => {
    // reuse is covered by the random traces below and by test/cache/reuse-policy.test.ts; here it would triple the time.
    const options = { policies: POLICY_NAMES.filter((p) => p !== 'reuse').map(policyFactory), capacities: [2 ** 20, 2 ** 24, null] };
    const streamed = await replayStream(MOONCAKE, streamTrace(MOONCAKE), options);
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
      fc.asyncProperty(fc.array(request, { minLength: 1, maxLength: 50 }), fc.integer({ min: 1, max: 12 }), async (raw, slots) => {
        const requests: TraceRequest[] = raw.map((r, i) => ({
          id: String(i),
          t: i,
          blocks: r.blocks,
          blockSize: 4,
          inputLength: (r.blocks.length - 1) * 4 + r.last,
          outputLength: 1,
        }));
        const options = { policies: POLICY_NAMES.map(policyFactory), capacities: [slots * 4, null] };
        const streamed = await replayStream('x', each(requests), options);
        const inMemory = replaySuite({ path: 'x', format: 'kvflow', requests, skipped: 0 }, options);
        expect(withoutSeconds(streamed.results)).toEqual(withoutSeconds(inMemory.results));
      }),
      { numRuns: 100 },
    );
  });

  it('refuses a stream whose arrival times go backwards (the replay order needs a sort)', async () => {
    const request = (id: string, t: number): TraceRequest => ({ id, t, blocks: [1], blockSize: 16, inputLength: 16, outputLength: 1 });
    await expect(replayStream('x', each([request('a', 2), request('b', 1)]), { policies: [policyFactory('lru')], capacities: [null] })).rejects.toBeInstanceOf(NeedsSortError);
  });
});

/**
 * The conversation target of the `reuse` policy: a request's row finds the turn it continues (turn number,
 * gaps, the user's new tokens), the binned logistic model learns from such rows, and the caches of one
 * group (a simulation run's replicas) share one learner.
 */
import { describe, expect, it } from 'vitest';
import { BinnedLogistic } from '../../src/cache/reuse/binned-logistic.js';
import { CONVERSATION_FEATURES, CONVERSATION_WIDTH, conversationMask } from '../../src/cache/reuse/conversation-features.js';
import { ReuseLearner } from '../../src/cache/reuse/reuse-learner.js';
import { ReusePolicy } from '../../src/cache/reuse/reuse-policy.js';
import { replayTrace } from '../../src/replay/replay.js';
import type { TraceRequest } from '../../src/types.js';
import { resolveHardware } from '../../src/sim/hardware.js';
import { setupByName } from '../../src/sim/setups.js';
import { servingOptions, simulate } from '../../src/sim/simulate.js';
import type { PolicyContext } from '../../src/cache/policy.js';
import { requireTrace } from '../helpers/requirements.js';
import { readTraceHead } from '../helpers/trace-head.js';

const MOONCAKE = requireTrace('mooncake_conversation_trace.jsonl');

const BLOCK = 16;

/** The bin set in `group` of a row, counted within the group (-1: none). */
function bin(row: Float32Array, group: number): number {
  const start = CONVERSATION_FEATURES.slice(0, group).reduce((sum, f) => sum + f.bins, 0);
  return row[group]! < 0 ? -1 : row[group]! - start;
}

/** A request of `blocks` full blocks followed by `extra` tokens of a partial one. */
function request(blocks: number[], extra: number, outputLength: number): TraceRequest {
  const partial = extra > 0 ? [1e6 + blocks.length * 1000 + blocks[blocks.length - 1]!] : [];
  const id = `r${blocks.join('.')}`;
  return { id, inputLength: blocks.length * BLOCK + extra, outputLength, blocks: [...blocks, ...partial], blockSize: BLOCK };
}

describe('conversation rows', () => {
  it('find the turn each request continues: its number, the gaps and the user tokens', () => {
    const learner = new ReuseLearner({}, 1000);
    const turns = [
      request([0, 1, 2], 5, 20), // r0: a first turn, ending in a partial block
      request([0, 7, 8], 0, 3), // r1: another conversation
      request([0, 1, 2, 3, 4], 0, 10), // r2: continues r0 (its full blocks), 2 requests later
      request([0, 9], 0, 1),
      request([0, 1, 2, 3, 4, 5, 6], 3, 4), // r4: continues r2, 2 requests later
    ];
    const rows = turns.map((turn) => {
      learner.observe(turn);
      learner.endRequest();
      return Float32Array.from(learner.turnRow);
    });
    expect(rows.map((row) => bin(row, 0))).toEqual([0, 0, 1, 0, 2]);
    expect(bin(rows[0]!, 1)).toBe(-1); // no earlier turn: no gap
    expect(bin(rows[2]!, 1)).toBe(Math.floor(Math.log2(1 + 2)));
    expect(bin(rows[2]!, 2)).toBe(-1); // r0 had no gap of its own
    expect(bin(rows[4]!, 2)).toBe(Math.floor(Math.log2(1 + 2)));
    // r2's new tokens beyond r0's prompt (53) and answer (20): 80 - 73 = 7.
    expect(bin(rows[2]!, 5)).toBe(Math.floor(Math.log2(1 + 7)));
    expect(bin(rows[0]!, 7)).toBe(Math.floor((8 * 5) / BLOCK));
  });

  it('leave out the groups an ablation names, and refuse unknown names', () => {
    const learner = new ReuseLearner({ conversationWithout: ['turn', 'last_fill'] }, 1000);
    learner.observe(request([0, 1], 5, 2));
    expect(learner.turnRow[0]).toBe(-1);
    expect(learner.turnRow[7]).toBe(-1);
    expect(learner.turnRow[3]).toBeGreaterThanOrEqual(0);
    expect(() => conversationMask(['no_such_group'])).toThrow(/unknown reuse conversation feature/);
  });
});

describe('BinnedLogistic', () => {
  it('learns which bins come back: seeded, and the same twice', () => {
    const count = 2000;
    const rows = new Float32Array(count * CONVERSATION_WIDTH).fill(-1);
    const labels = new Float32Array(count);
    let s = 99;
    const next = () => {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      return s / 2 ** 32;
    };
    for (let r = 0; r < count; r++) {
      const turn = r % 3; // bins 0, 1, 2 of the turn group: comes back 10%, 50%, 90% of the time
      rows[r * CONVERSATION_WIDTH] = turn;
      labels[r] = next() < [0.1, 0.5, 0.9][turn]! ? 1 : 0;
    }
    const train = () => {
      const model = new BinnedLogistic({ learningRate: 0.05, batchSize: 256, stepsPerFit: 20, seed: 5 });
      for (let round = 0; round < 10; round++) model.fit(rows, labels, count);
      return [0, 1, 2].map((turn) => model.logit(rows, turn * CONVERSATION_WIDTH));
    };
    const [low, middle, high] = train();
    expect(low).toBeLessThan(-1.2);
    expect(Math.abs(middle!)).toBeLessThan(0.5);
    expect(high).toBeGreaterThan(1.2);
    expect(train()).toEqual([low, middle, high]);
  });
});

describe('a shared learner', () => {
  it('serves every cache of a group: what one replays, the others have learned', () => {
    const requests: TraceRequest[] = [];
    for (let c = 0; c < 300; c++) {
      const base = [0, 1000 + c];
      requests.push(request(base, 4, 8), request([...base, 5000 + c], 4, 8));
    }
    const shared = new Map<unknown, unknown>();
    const options = { minSamples: 32, retrainEvery: 32, horizonFrom: 'fixed' as const, horizon: 50 };
    const first = new ReusePolicy(options, 64, shared);
    const second = new ReusePolicy({}, 64, shared);
    const alone = new ReusePolicy(options, 64);
    expect(second.options.minSamples).toBe(32); // the group's learner, made by the first
    replayTrace(requests, { capacityTokens: 64 * BLOCK, blockSize: BLOCK, policy: first });
    expect(first.fits).toBeGreaterThan(0);
    expect(second.fits).toBe(first.fits);
    expect(alone.fits).toBe(0);
  });
});

describe.skipIf(!MOONCAKE)('reuse in simulate', async () => {
  const requests = MOONCAKE ? await readTraceHead(MOONCAKE, 1500) : [];

  it('trains one learner for all the replicas of a run, and a run repeats byte for byte', () => {
    const hardware = resolveHardware({ gpu: 'H100-SXM', model: 'Llama-3.1-8B', overrides: { blockSize: 512 } });
    const run = () => {
      const made: ReusePolicy[] = [];
      const setup = {
        ...setupByName('reuse'),
        policy: (context?: PolicyContext) => {
          const policy = new ReusePolicy({}, context?.gpuSlots ?? Infinity, context?.shared);
          made.push(policy);
          return policy;
        },
      };
      const { report } = simulate({ requests, setups: [setup], hardware, serving: servingOptions({ replicas: 4 }, { hardware, workload: 'trace' }), workload: {} });
      return { report: JSON.stringify(report), fits: made.map((policy) => policy.fits) };
    };
    const first = run();
    expect(first.fits).toHaveLength(4);
    expect(first.fits[0]).toBeGreaterThan(0);
    expect(new Set(first.fits).size).toBe(1);
    expect(run().report).toBe(first.report);
  });
});

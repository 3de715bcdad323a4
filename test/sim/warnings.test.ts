import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CostModel } from '../../src/sim/cost-model.js';
import { setupByName } from '../../src/sim/setups.js';
import { workloadWarnings } from '../../src/sim/warnings.js';
import { GLOBAL_SESSION, type TraceRequest } from '../../src/types.js';
import { hardwareOf, memoryFractionForPages } from '../helpers/sim.js';

const A10G = { gpu: 'A10G', model: 'Llama-3.1-8B', blockSize: 16 } as const;

/** A10G with pools of exactly `gpuPages` and `cpuPages` pages. */
function poolsOf(gpuPages: number, cpuPages: number) {
  const pageBytes = new CostModel(hardwareOf(A10G)).pageBytes;
  const hardware = hardwareOf({ ...A10G, overrides: { memoryFraction: memoryFractionForPages(gpuPages, A10G), cpuPoolBytes: cpuPages * pageBytes } });
  return { hardware, cost: new CostModel(hardware) };
}

// Requests of a few agents in a few workflows, each reusing one of a few fixed prompts (some equal, some
// sharing a prefix), so that prompts sent again, grown, shrunk or changed all occur.
const prompts = fc.array(fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 4 });
const requestsArb = prompts.chain((shapes) =>
  fc.array(
    fc.record({
      workflow: fc.option(fc.constantFrom('w0', 'w1', 'w2'), { nil: undefined }),
      agent: fc.option(fc.constantFrom('a', 'b'), { nil: undefined }),
      shape: fc.integer({ min: 0, max: shapes.length - 1 }),
      fixed: fc.integer({ min: 0, max: 12 }),
      tail: fc.integer({ min: 0, max: 3 }),
    }),
    { maxLength: 40 },
  ).map((picks) =>
    picks.map(({ workflow, agent, shape, fixed, tail }, index): TraceRequest => {
      const blocks = [...shapes[shape]!, ...Array.from({ length: tail }, (_, i) => 1000 + index * 4 + i)];
      return {
        id: `r${index}`,
        ...(workflow !== undefined && { workflow }),
        ...(agent !== undefined && { agent }),
        blocks,
        blockSize: 16,
        inputLength: blocks.length * 16,
        outputLength: 1,
        fixedBlocks: Math.min(fixed, blocks.length),
      };
    }),
  ),
);

describe('workloadWarnings', () => {
  it('counts each prompt once however often its agent sends it: the same warnings as without agents (nothing skipped)', () => {
    const setups = [setupByName('sglang'), setupByName('hicache')];
    fc.assert(
      fc.property(requestsArb, fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1, max: 60 }), (requests, gpuPages, cpuPages) => {
        const { hardware, cost } = poolsOf(gpuPages, cpuPages);
        const anonymous = requests.map(({ agent: _agent, ...rest }) => rest);
        const warnings = workloadWarnings(requests, setups, cost, hardware);
        expect(warnings).toEqual(workloadWarnings(anonymous, setups, cost, hardware));
        // The sizes in the messages are the distinct fixed blocks, counted here with Sets.
        const all = new Set<number>();
        const own = new Map<string, Set<number>>();
        for (const { workflow = GLOBAL_SESSION, blocks, fixedBlocks = 0 } of requests) {
          const mine = own.get(workflow) ?? new Set<number>();
          own.set(workflow, mine);
          for (const block of blocks.slice(0, fixedBlocks)) {
            mine.add(block);
            all.add(block);
          }
        }
        const largest = Math.max(0, ...[...own.values()].map((blocks) => blocks.size));
        const expected = [
          ...(largest > gpuPages ? [`fixed prompts (${largest * 16} tokens`] : []),
          ...(all.size > cpuPages ? [`cycle through (${all.size * 16} tokens`] : []),
        ];
        expect(warnings).toHaveLength(expected.length);
        expected.forEach((text, i) => expect(warnings[i]).toContain(text));
      }),
      { numRuns: 200, seed: 1414 },
    );
  });

  it('warns when one workflow\'s fixed prompts exceed the GPU pool, and the CPU tier is smaller than all of them', () => {
    const { hardware, cost } = poolsOf(3, 5);
    const request = (id: string, workflow: string, blocks: number[]): TraceRequest => ({
      id, workflow, agent: 'a', blocks, blockSize: 16, inputLength: blocks.length * 16, outputLength: 1, fixedBlocks: blocks.length,
    });
    // w0 sends [1, 2] twice and then [1, 2, 3, 4]: 4 distinct pages > 3; all workflows: 6 distinct > 5.
    const requests = [request('x', 'w0', [1, 2]), request('y', 'w0', [1, 2]), request('z', 'w0', [1, 2, 3, 4]), request('v', 'w1', [5, 6])];
    const warnings = workloadWarnings(requests, [setupByName('hicache')], cost, hardware);
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toContain('cannot hold one workflow\'s fixed prompts (64 tokens');
    expect(warnings[1]).toContain('cycle through (96 tokens');
    expect(workloadWarnings(requests.slice(0, 2), [setupByName('hicache')], cost, hardware)).toEqual([]);
  });
});

/**
 * Warnings about sizes that decide a comparison before any policy does: a GPU pool that cannot hold even
 * one workflow's fixed prompts, or a CPU tier that cannot hold the fixed prompts the workflows cycle
 * through (then HiCache's write-through thrashes the CPU tier too). Each names the sizes and the flag.
 */
import { GLOBAL_SESSION, type TraceRequest } from '../types.js';
import type { CostModel } from './cost-model.js';
import type { HardwareConfig } from './hardware.js';
import type { Setup } from './setups.js';

export function workloadWarnings(
  requests: readonly TraceRequest[],
  setups: readonly Setup[],
  cost: CostModel,
  hardware: HardwareConfig,
): string[] {
  // Only a CPU tier needs the fixed prompts of all workflows together.
  const tiered = setups.some((setup) => setup.cpuTier);
  // First only counted: a list's blocks are gathered, and sorted for their distinct count, only when it is longer
  // than its pool (no more distinct blocks than blocks), which a run whose prompts fit never is (gathering every
  // fixed block of a c1024 run cost ~3% of it, sorting them ~6% before).
  const perWorkflow = new Map<string, WorkflowPrompts>();
  let allBlocks = 0;
  for (let index = 0; index < requests.length; index++) {
    const request = requests[index]!;
    const fixed = request.fixedBlocks ?? 0;
    if (fixed === 0) continue;
    const workflow = request.workflow ?? GLOBAL_SESSION;
    let own = perWorkflow.get(workflow);
    if (!own) perWorkflow.set(workflow, (own = { blocks: 0, requests: [], prompts: new Map() }));
    if (request.agent !== undefined) {
      // An agent sends the same fixed prompt round after round: a prompt already counted adds nothing.
      const before = own.prompts.get(request.agent);
      if (before && samePrefix(before.blocks, request.blocks, fixed) && before.fixed >= fixed) continue;
      own.prompts.set(request.agent, { blocks: request.blocks, fixed });
    }
    own.blocks += fixed;
    own.requests.push(index);
    allBlocks += fixed;
  }
  const warnings: string[] = [];
  const tokens = (pages: number) => pages * hardware.blockSize;
  const gb = (pages: number) => `${((pages * cost.pageBytes) / 1e9).toFixed(1)} GB`;
  let largest = 0;
  for (const own of perWorkflow.values()) {
    if (own.blocks > cost.gpuPoolPages) largest = Math.max(largest, distinctCount(fixedBlocksOf(requests, [own])));
  }
  if (largest > cost.gpuPoolPages) {
    warnings.push(
      `the GPU KV pool (${tokens(cost.gpuPoolPages)} tokens, ${gb(cost.gpuPoolPages)}) cannot hold one workflow's fixed prompts ` +
        `(${tokens(largest)} tokens, ${gb(largest)}): every setup reloads or recomputes them each round ` +
        `(--gpu, --gpu-count or --memory-fraction give a larger pool)`,
    );
  }
  const allPages = tiered && allBlocks > cost.cpuPoolPages ? distinctCount(fixedBlocksOf(requests, perWorkflow.values())) : 0;
  if (allPages > cost.cpuPoolPages) {
    warnings.push(
      `the CPU tier (${tokens(cost.cpuPoolPages)} tokens, ${gb(cost.cpuPoolPages)}) cannot hold the fixed prompts the workflows ` +
        `cycle through (${tokens(allPages)} tokens, ${gb(allPages)}): under lru the CPU tier thrashes too ` +
        `(--cpu-pool-bytes sets its size; SGLang's --hicache-size)`,
    );
  }
  return warnings;
}

/** One workflow's counted fixed prompts: how many blocks, which requests, and the latest prompt of each agent. */
interface WorkflowPrompts {
  blocks: number;
  requests: number[];
  prompts: Map<string, { blocks: readonly number[]; fixed: number }>;
}

/** The fixed blocks of the counted requests of these workflows. */
function fixedBlocksOf(requests: readonly TraceRequest[], workflows: Iterable<WorkflowPrompts>): Float64Array {
  let length = 0;
  const lists: WorkflowPrompts[] = [];
  for (const own of workflows) {
    lists.push(own);
    length += own.blocks;
  }
  const blocks = new Float64Array(length);
  let at = 0;
  for (const own of lists) {
    for (const index of own.requests) {
      const request = requests[index]!;
      const fixed = request.fixedBlocks!;
      for (let i = 0; i < fixed; i++) blocks[at++] = request.blocks[i]!;
    }
  }
  return blocks;
}

/** Whether the first `length` blocks of `a` and `b` are the same. */
function samePrefix(a: readonly number[], b: readonly number[], length: number): boolean {
  if (a.length < length || b.length < length) return false;
  for (let i = 0; i < length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** How many different values `blocks` holds (block ids are integers); sorts it. */
function distinctCount(blocks: Float64Array): number {
  const sorted = blocks.sort();
  let count = 0;
  for (let i = 0; i < sorted.length; i++) if (i === 0 || sorted[i] !== sorted[i - 1]) count++;
  return count;
}

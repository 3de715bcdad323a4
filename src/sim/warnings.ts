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
  // Blocks gathered in arrays and counted once sorted: a Set of every block cost more than the rest.
  const all: number[] = [];
  const perWorkflow = new Map<string, number[]>();
  // An agent sends the same fixed prompt round after round: a prompt already counted adds nothing.
  const counted = new Map<string, { blocks: readonly number[]; fixed: number }>();
  for (const request of requests) {
    const fixed = request.fixedBlocks ?? 0;
    if (fixed === 0) continue;
    const workflow = request.workflow ?? GLOBAL_SESSION;
    let own = perWorkflow.get(workflow);
    if (!own) perWorkflow.set(workflow, (own = []));
    if (request.agent !== undefined) {
      const key = `${workflow}\u0000${request.agent}`;
      const before = counted.get(key);
      if (before && samePrefix(before.blocks, request.blocks, fixed) && before.fixed >= fixed) continue;
      counted.set(key, { blocks: request.blocks, fixed });
    }
    for (let i = 0; i < fixed; i++) own.push(request.blocks[i]!);
    if (tiered) for (let i = 0; i < fixed; i++) all.push(request.blocks[i]!);
  }
  const warnings: string[] = [];
  const tokens = (pages: number) => pages * hardware.blockSize;
  const gb = (pages: number) => `${((pages * cost.pageBytes) / 1e9).toFixed(1)} GB`;
  // A count only matters above its pool, and no more distinct blocks than blocks: only longer lists are sorted
  // (sorting every fixed block of a c1024 run was ~6% of it).
  let largest = 0;
  for (const own of perWorkflow.values()) if (own.length > cost.gpuPoolPages) largest = Math.max(largest, distinctCount(own));
  if (largest > cost.gpuPoolPages) {
    warnings.push(
      `the GPU KV pool (${tokens(cost.gpuPoolPages)} tokens, ${gb(cost.gpuPoolPages)}) cannot hold one workflow's fixed prompts ` +
        `(${tokens(largest)} tokens, ${gb(largest)}): every setup reloads or recomputes them each round ` +
        `(--gpu, --gpu-count or --memory-fraction give a larger pool)`,
    );
  }
  const allPages = tiered && all.length > cost.cpuPoolPages ? distinctCount(all) : 0;
  if (allPages > cost.cpuPoolPages) {
    warnings.push(
      `the CPU tier (${tokens(cost.cpuPoolPages)} tokens, ${gb(cost.cpuPoolPages)}) cannot hold the fixed prompts the workflows ` +
        `cycle through (${tokens(allPages)} tokens, ${gb(allPages)}): under lru the CPU tier thrashes too ` +
        `(--cpu-pool-bytes sets its size; SGLang's --hicache-size)`,
    );
  }
  return warnings;
}

/** Whether the first `length` blocks of `a` and `b` are the same. */
function samePrefix(a: readonly number[], b: readonly number[], length: number): boolean {
  if (a.length < length || b.length < length) return false;
  for (let i = 0; i < length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** How many different values `blocks` holds (block ids are integers). */
function distinctCount(blocks: readonly number[]): number {
  const sorted = Float64Array.from(blocks).sort();
  let count = 0;
  for (let i = 0; i < sorted.length; i++) if (i === 0 || sorted[i] !== sorted[i - 1]) count++;
  return count;
}

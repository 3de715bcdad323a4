/**
 * fast-check run counts, scaled by KVFLOW_FC_SCALE (default 1). `npm run mutate` lowers it: each mutant
 * reruns the properties covering it, and the exact tests beside them carry most of the killing.
 */
export function runs(numRuns: number): number {
  const scale = Number(process.env.KVFLOW_FC_SCALE ?? 1);
  if (!(scale > 0)) throw new Error(`KVFLOW_FC_SCALE must be a positive number, got "${process.env.KVFLOW_FC_SCALE}"`);
  return Math.max(10, Math.round(numRuns * scale));
}

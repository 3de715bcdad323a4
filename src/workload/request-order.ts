/** Request order and token arithmetic shared by replay, trace statistics and the simulator's inputs. */
import type { TraceRequest } from '../types.js';

/** Tokens in the first `pages` blocks of a request: full blocks, except that the last one may be partial. */
export function prefixTokens(request: { readonly blocks: ArrayLike<number>; readonly blockSize: number; readonly inputLength: number }, pages: number): number {
  if (pages <= 0) return 0;
  if (pages >= request.blocks.length) return request.inputLength;
  return pages * request.blockSize;
}

/**
 * Replay order: a stable sort by arrival time `t` when every request has one, else file order (closed-loop
 * traces are written in a valid dependency order).
 */
export function replayOrder(requests: readonly TraceRequest[]): readonly TraceRequest[] {
  let sorted = true;
  for (let r = 0; r < requests.length; r++) {
    const t = requests[r]!.t;
    if (t === undefined) return requests;
    if (r > 0 && t < requests[r - 1]!.t!) sorted = false;
  }
  if (sorted) return requests;
  return requests
    .map((request, index) => ({ request, index }))
    .sort((a, b) => a.request.t! - b.request.t! || a.index - b.index)
    .map(({ request }) => request);
}

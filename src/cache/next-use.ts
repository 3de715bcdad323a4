import type { TraceRequest } from '../types.js';
import { PrefixInterner } from '../prefix-interner.js';

/** Request index standing for "never used again". */
export const NEVER = Infinity;

/**
 * For every block reference of a trace (request r, position i), the index of the next request after r
 * whose blocks contain the same prefix `blocks[0..i]`, or NEVER. This is the future Belady's oracle sees.
 *
 * Prefixes are interned to dense ids (prefix-interner.ts), then one backward pass
 * fills the answer from a "last seen" array. Result arrays are flat, indexed by `offsets[r] + i`.
 */
export interface NextUseIndex {
  /** `offsets[r]` is the first flat index of request r; `offsets[requests]` the total. */
  offsets: Uint32Array;
  nextUse: Float64Array;
}

export function computeNextUse(requests: readonly TraceRequest[]): NextUseIndex {
  const offsets = new Uint32Array(requests.length + 1);
  for (let r = 0; r < requests.length; r++) offsets[r + 1] = offsets[r]! + requests[r]!.blocks.length;
  const total = offsets[requests.length]!;

  const prefixIds = new Int32Array(total);
  const interner = new PrefixInterner(Math.min(total, 1 << 20));
  for (let r = 0; r < requests.length; r++) interner.internPath(requests[r]!.blocks, prefixIds, offsets[r]!);
  const prefixCount = interner.size;

  const lastSeen = new Float64Array(prefixCount).fill(NEVER);
  const nextUse = new Float64Array(total);
  for (let r = requests.length - 1; r >= 0; r--) {
    for (let at = offsets[r]!; at < offsets[r + 1]!; at++) {
      const prefix = prefixIds[at]!;
      nextUse[at] = lastSeen[prefix]!;
      lastSeen[prefix] = r;
    }
  }
  return { offsets, nextUse };
}

/**
 * The encoded trace that `replayStream` (replay-stream.ts) replays policies that read the future from,
 * after its one pass: in a module of its own, loaded only when such a policy runs.
 */
import type { ReplayResult, TraceRequest } from '../types.js';
import { PrefixInterner } from '../prefix-interner.js';
import type { PolicyFactory } from '../cache/policy.js';
import { Int32Chunks } from './int32-chunks.js';
import { CacheReplayer, type ReplayRequest } from './replay.js';

/** "Never used again" in an Int32 next-use index. */
const NEVER_INDEX = 0x7fffffff;

/**
 * A trace as dense prefix ids: the path `blocks[0..i]` of every request, interned, so equal prefixes share
 * an id. Ids stand in for block ids in the replay (a child is still identified by its parent and its id),
 * and Belady's next-use index is one backward pass over them. Memory is about 4 bytes per page reference
 * for the ids and 4 more for their next uses, plus the interner's ~13 bytes per distinct prefix, which is
 * dropped before the next uses are computed.
 */
export class PrefixEncoding {
  #interner: PrefixInterner | undefined = new PrefixInterner(1 << 16);
  #prefixes = 1;
  #ids = new Int32Chunks();
  #lengths = new Int32Chunks();
  #inputLength = new Int32Chunks();
  #scratch = new Int32Array(256);

  add(request: TraceRequest): void {
    const { blocks } = request;
    if (this.#scratch.length < blocks.length) this.#scratch = new Int32Array(blocks.length * 2);
    this.#interner!.internPath(blocks, this.#scratch);
    for (let i = 0; i < blocks.length; i++) this.#ids.push(this.#scratch[i]!);
    this.#lengths.push(blocks.length);
    this.#inputLength.push(request.inputLength);
  }

  /**
   * For every page reference, the next request that uses the same prefix; never is 2^31 - 1, which
   * orders exactly like Infinity (request indices stay below it) at half the memory.
   */
  nextUse(): Int32Chunks {
    this.#prefixes = this.#interner!.size;
    this.#interner = undefined; // no longer needed: let it go before allocating the index
    const lastSeen = new Int32Array(this.#prefixes).fill(NEVER_INDEX);
    const nextUse = new Int32Chunks();
    nextUse.resize(this.#ids.length);
    let at = this.#ids.length;
    for (let r = this.#lengths.length - 1; r >= 0; r--) {
      for (let end = at - this.#lengths.get(r); at > end; ) {
        at--;
        const prefix = this.#ids.get(at);
        nextUse.set(at, lastSeen[prefix]!);
        lastSeen[prefix] = r;
      }
    }
    return nextUse;
  }

  /** Replays the encoded trace with a policy that reads the future. */
  replay(policy: PolicyFactory, capacityTokens: number | null, blockSize: number, nextUse: Int32Chunks): ReplayResult {
    const replayer = new CacheReplayer([], { policy, capacityTokens, blockSize });
    let blocks = new Int32Array(256);
    let uses = new Int32Array(256);
    const request: ReplayRequest = { id: '', blocks, blockSize, inputLength: 0, outputLength: 0 };
    const started = performance.now();
    let from = 0;
    for (let r = 0; r < this.#lengths.length; r++) {
      const length = this.#lengths.get(r);
      if (length > blocks.length) {
        blocks = new Int32Array(length * 2);
        uses = new Int32Array(length * 2);
      }
      const requestBlocks = blocks.subarray(0, length);
      const requestUses = uses.subarray(0, length);
      this.#ids.copyTo(from, requestBlocks);
      nextUse.copyTo(from, requestUses);
      request.blocks = requestBlocks;
      request.inputLength = this.#inputLength.get(r);
      replayer.step(request, r, requestUses, 0, false);
      from += length;
    }
    return { ...replayer.totals(), seconds: (performance.now() - started) / 1000 };
  }
}

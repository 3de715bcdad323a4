/**
 * One upstream's GPU prefix cache as its KV events describe it, in the gateway's own block ids. The
 * engine's block hashes are opaque (vLLM's are SHA-256 based), so each stored block's id is recomputed
 * from its token ids with the gateway's chained hash (`blockChainNext`), starting from its parent's chain
 * state (or the salt's, for a first block): a prompt the gateway tokenizes then matches exactly the blocks
 * the engine holds. Matching counts leading blocks present, as the engine's prefix lookup does.
 */
import { blockChainNext, blockChainStart, type BlockChain } from '../../native.js';
import { saltSeed } from '../http/prompt-tokens.js';
import { MEDIUM_GPU, type BlockStored, type KvEvent } from './wire.js';

interface Entry {
  /** The gateway's id of the block. */
  id: number;
  chain: BlockChain;
}

export interface KvBlockIndexOptions {
  /** Tokens per block on the gateway; events of another block size cannot be matched and are counted. */
  blockSize: number;
  /** Told of every gateway block id entering (true) or leaving (false) the index. */
  onPage?: (block: number, present: boolean) => void;
  /** Told once per kind of event the index cannot use (another block size, a stored block's unknown parent). */
  warn?: (message: string) => void;
}

export interface KvBlockIndexStats {
  /** Blocks held. */
  blocks: number;
  stored: number;
  removed: number;
  clears: number;
  /** Events of another medium (CPU offload) or KV cache group, left out. */
  ignored: number;
  /** Stored blocks left out: unknown parent hash, or another block size. */
  unresolved: number;
}

export class KvBlockIndex {
  readonly #blockSize: number;
  readonly #onPage: ((block: number, present: boolean) => void) | undefined;
  readonly #warn: (message: string) => void;
  /** Engine hash -> the block as the gateway names it. */
  readonly #entries = new Map<bigint, Entry>();
  /** Gateway block id -> engine hashes naming it (one, unless the engine keeps duplicates). */
  readonly #present = new Map<number, number>();
  readonly #warned = new Set<string>();
  #stored = 0;
  #removed = 0;
  #clears = 0;
  #ignored = 0;
  #unresolved = 0;

  constructor(options: KvBlockIndexOptions) {
    this.#blockSize = options.blockSize;
    this.#onPage = options.onPage;
    this.#warn = options.warn ?? (() => {});
  }

  apply(events: readonly KvEvent[]): void {
    for (const event of events) {
      if (event.type === 'AllBlocksCleared') {
        this.clear();
        this.#clears++;
        continue;
      }
      if (!isGpuGroup(event)) {
        this.#ignored++;
        continue;
      }
      if (event.type === 'BlockStored') this.#store(event);
      else for (const hash of event.blockHashes) this.#remove(hash);
    }
  }

  /** Forgets every block (the engine cleared its cache, or the stream must be rebuilt). */
  clear(): void {
    for (const id of this.#present.keys()) this.#onPage?.(id, false);
    this.#present.clear();
    this.#entries.clear();
  }

  /** Leading blocks of `blocks` (gateway ids) held. */
  match(blocks: readonly number[]): number {
    let depth = 0;
    while (depth < blocks.length && this.#present.has(blocks[depth]!)) depth++;
    return depth;
  }

  /** Blocks held. */
  get size(): number {
    return this.#present.size;
  }

  /** Gateway ids held, sorted. */
  blockIds(): number[] {
    return [...this.#present.keys()].sort((a, b) => a - b);
  }

  stats(): KvBlockIndexStats {
    return {
      blocks: this.#present.size,
      stored: this.#stored,
      removed: this.#removed,
      clears: this.#clears,
      ignored: this.#ignored,
      unresolved: this.#unresolved,
    };
  }

  #store(event: BlockStored): void {
    if (event.blockSize !== this.#blockSize) {
      this.#unresolved += event.blockHashes.length;
      this.#warnOnce('block-size', `KV events carry blocks of ${event.blockSize} tokens, the gateway's --block-size is ${this.#blockSize}: those blocks are left out`);
      return;
    }
    let chain: BlockChain;
    if (event.parentBlockHash === null) {
      chain = blockChainStart(saltSeed(saltOf(event.extraKeys?.[0])));
    } else {
      const parent = this.#entries.get(event.parentBlockHash);
      if (!parent) {
        // Its parent was never seen (evicted meanwhile, or events were lost): its tokens' prefix is unknown.
        this.#unresolved += event.blockHashes.length;
        return;
      }
      chain = parent.chain;
    }
    const tokens = event.tokenIds;
    for (let i = 0; i < event.blockHashes.length; i++) {
      const next = blockChainNext(chain, tokens, i * this.#blockSize, (i + 1) * this.#blockSize);
      chain = { lo: next.lo, hi: next.hi };
      const hash = event.blockHashes[i]!;
      const known = this.#entries.get(hash);
      if (known?.id === next.id) continue; // stored again without a removal in between: nothing changes
      if (known) this.#remove(hash);
      this.#entries.set(hash, { id: next.id, chain });
      const count = this.#present.get(next.id) ?? 0;
      this.#present.set(next.id, count + 1);
      if (count === 0) this.#onPage?.(next.id, true);
      this.#stored++;
    }
  }

  #remove(hash: bigint): void {
    const entry = this.#entries.get(hash);
    if (!entry) return;
    this.#entries.delete(hash);
    this.#removed++;
    const count = this.#present.get(entry.id)!;
    if (count > 1) this.#present.set(entry.id, count - 1);
    else {
      this.#present.delete(entry.id);
      this.#onPage?.(entry.id, false);
    }
  }

  #warnOnce(kind: string, message: string): void {
    if (this.#warned.has(kind)) return;
    this.#warned.add(kind);
    this.#warn(message);
  }
}

/** GPU events of the full-attention group (vLLM omits both fields for it in older versions). */
function isGpuGroup(event: { medium: string | null; groupIdx: number | null }): boolean {
  return (event.medium === null || event.medium.toUpperCase() === MEDIUM_GPU) && (event.groupIdx === null || event.groupIdx === 0);
}

/** vLLM puts a prompt's `cache_salt` in its first block's extra keys: the one string there. */
function saltOf(keys: unknown[] | null | undefined): string | undefined {
  if (!keys) return undefined;
  const strings = keys.filter((key): key is string => typeof key === 'string');
  return strings.length === 1 ? strings[0] : undefined;
}

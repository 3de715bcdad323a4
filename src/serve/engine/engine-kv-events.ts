/**
 * Turns the engine's GPU cache changes into vLLM KV events: a full block becoming usable on the GPU is a
 * `BlockStored` (its token ids, its parent's hash; the salt, if any, in the first block's extra keys, as
 * vLLM does), a GPU eviction of a published block a `BlockRemoved`. Like vLLM, only full blocks are
 * published (a prompt's partial last block never is), and events of one engine step (here: one
 * synchronous turn of the engine's clock) go out as one batch. Block hashes are the engine's block ids.
 *
 * A block loaded back from the CPU may reach the GPU after a child inserted under it while it was still
 * loading; the child's event waits for its parent's, so a consumer always knows a block's parent first.
 */
import { ROOT, type RadixCache } from '../../cache/radix-cache.js';
import { MEDIUM_GPU, type BlockStored, type KvEvent } from '../kv-events/wire.js';

/** Where batches go (the ZMQ publisher, or a test's array). */
export interface KvEventSink {
  publish(events: KvEvent[]): void;
}

interface BlockContent {
  tokens: Int32Array;
  /** The prompt's salt, kept for first blocks only (what vLLM puts in their extra keys). */
  salt: string | undefined;
}

export class EngineKvEvents {
  readonly #sink: KvEventSink;
  readonly #blockSize: number;
  #cache: RadixCache | undefined;
  /** Token ids of full blocks the engine has seen, by block id (pruned to the tree and running requests). */
  readonly #content = new Map<number, BlockContent>();
  /** Blocks published as stored and not removed since. */
  readonly #published = new Set<number>();
  /** Resident pages waiting for their parent's event, by the parent's block id. */
  readonly #waiting = new Map<number, number[]>();
  #pending: KvEvent[] = [];
  /** Token ids of the pending stored events, joined when the batch goes out. */
  readonly #tokenParts = new Map<BlockStored, Int32Array[]>();
  #flushQueued = false;
  #pruneAt = 4096;
  /** Block ids of running requests (kept when pruning). */
  readonly #activeBlocks: () => Iterable<readonly number[]>;

  constructor(sink: KvEventSink, blockSize: number, activeBlocks: () => Iterable<readonly number[]>) {
    this.#sink = sink;
    this.#blockSize = blockSize;
    this.#activeBlocks = activeBlocks;
  }

  /** The cache whose pages the hooks name (set once the replica exists). */
  attach(cache: RadixCache): void {
    this.#cache = cache;
  }

  /** Blocks currently published as on the GPU. */
  get publishedBlocks(): ReadonlySet<number> {
    return this.#published;
  }

  /** Whether `block` is a full block the engine has seen (only those are published). */
  isFullBlock(block: number): boolean {
    return this.#content.has(block);
  }

  /** A prompt's token ids per full block, before the engine may cache them. */
  notePrompt(blocks: readonly number[], tokens: Int32Array, salt: string | undefined): void {
    const full = Math.min(blocks.length, Math.floor(tokens.length / this.#blockSize));
    for (let i = 0; i < full; i++) {
      if (this.#content.has(blocks[i]!)) continue;
      this.#content.set(blocks[i]!, {
        tokens: tokens.slice(i * this.#blockSize, (i + 1) * this.#blockSize),
        salt: i === 0 ? salt : undefined,
      });
    }
    if (this.#content.size > this.#pruneAt) this.#prune();
  }

  readonly resident = (page: number): void => {
    const cache = this.#cache!;
    const block = cache.blockOf(page);
    if (!this.#content.has(block)) return; // a partial block: never published
    const parentPage = cache.parentOf(page);
    if (parentPage !== ROOT && !this.#published.has(cache.blockOf(parentPage))) {
      const parent = cache.blockOf(parentPage);
      const siblings = this.#waiting.get(parent);
      if (siblings) siblings.push(page);
      else this.#waiting.set(parent, [page]);
      return;
    }
    this.#store(page, block, parentPage === ROOT ? null : cache.blockOf(parentPage));
  };

  readonly evicted = (page: number): void => {
    const cache = this.#cache!;
    const block = cache.blockOf(page);
    if (!this.#published.delete(block)) {
      // Never published (partial, or still waiting for its parent): drop it from the waiting list.
      const parentPage = cache.parentOf(page);
      if (parentPage !== ROOT) {
        const siblings = this.#waiting.get(cache.blockOf(parentPage));
        const at = siblings?.indexOf(page) ?? -1;
        if (at >= 0) siblings!.splice(at, 1);
      }
      return;
    }
    const last = this.#pending[this.#pending.length - 1];
    if (last?.type === 'BlockRemoved') last.blockHashes.push(BigInt(block));
    else this.#push({ type: 'BlockRemoved', blockHashes: [BigInt(block)], medium: MEDIUM_GPU, groupIdx: 0 });
  };

  #store(page: number, block: number, parent: number | null): void {
    const content = this.#content.get(block)!;
    this.#published.add(block);
    const last = this.#pending[this.#pending.length - 1];
    if (last?.type === 'BlockStored' && parent !== null && last.blockHashes[last.blockHashes.length - 1] === BigInt(parent)) {
      // The next block of the same chain: one event, as vLLM reports a request's new blocks.
      last.blockHashes.push(BigInt(block));
      this.#tokenParts.get(last)!.push(content.tokens);
      last.extraKeys?.push(null);
    } else {
      const salted = parent === null && content.salt !== undefined;
      const event: BlockStored = {
        type: 'BlockStored',
        blockHashes: [BigInt(block)],
        parentBlockHash: parent === null ? null : BigInt(parent),
        tokenIds: content.tokens,
        blockSize: this.#blockSize,
        medium: MEDIUM_GPU,
        extraKeys: [salted ? [content.salt] : null],
        groupIdx: 0,
      };
      this.#tokenParts.set(event, [content.tokens]);
      this.#push(event);
    }
    const children = this.#waiting.get(block);
    if (children) {
      this.#waiting.delete(block);
      for (const child of children) this.#store(child, this.#cache!.blockOf(child), block);
    }
  }

  #push(event: KvEvent): void {
    this.#pending.push(event);
    if (this.#flushQueued) return;
    this.#flushQueued = true;
    queueMicrotask(() => this.flush());
  }

  /** Publishes what this turn of the clock changed, as one batch. */
  flush(): void {
    this.#flushQueued = false;
    if (this.#pending.length === 0) return;
    const events = this.#pending;
    this.#pending = [];
    for (const [event, parts] of this.#tokenParts) event.tokenIds = concat(parts);
    this.#tokenParts.clear();
    this.#sink.publish(events);
  }

  /** Keeps the token ids of blocks in the tree (any tier) or in running requests; drops the rest. */
  #prune(): void {
    const keep = new Set<number>();
    const cache = this.#cache;
    if (cache) for (const page of cache.pageIds()) keep.add(cache.blockOf(page));
    for (const blocks of this.#activeBlocks()) for (const block of blocks) keep.add(block);
    for (const block of this.#content.keys()) if (!keep.has(block)) this.#content.delete(block);
    this.#pruneAt = Math.max(4096, this.#content.size * 2);
  }
}

function concat(parts: readonly Int32Array[]): Int32Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Int32Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

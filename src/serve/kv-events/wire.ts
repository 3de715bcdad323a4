/**
 * vLLM's KV cache events on the wire (vllm/distributed/kv_events.py): a batch is the msgpack array
 * `[ts, events, data_parallel_rank]`; each event is a msgspec tagged struct, encoded as a map with the tag
 * under `type` (vLLM after its PR 42892) or, in older vLLM and llm-d consumers, as the positional array
 * `[tag, ...fields]`. Both are decoded; `map` is what current vLLM publishes and the default here.
 *
 * Block hashes are opaque 64-bit ids (vLLM sends ints, or bytes whose last 8 bytes count, as llm-d reads
 * them); they are normalized to unsigned bigints. Decoding validates every field it uses and ignores
 * fields it does not know, so newer vLLM fields pass through.
 */
import { decode, encode } from '@msgpack/msgpack';

export type KvEventFormat = 'map' | 'array';
export const KV_EVENT_FORMATS: readonly KvEventFormat[] = ['map', 'array'];

/** vLLM's medium for device memory; events of other media (CPU offload) are not about the GPU cache. */
export const MEDIUM_GPU = 'GPU';

export interface BlockStored {
  type: 'BlockStored';
  /** One per block, in chain order. */
  blockHashes: bigint[];
  /** The block before the first one; null at the start of a prompt. */
  parentBlockHash: bigint | null;
  /** `blockHashes.length * blockSize` token ids. */
  tokenIds: Int32Array;
  blockSize: number;
  medium: string | null;
  /** Per block: the extra hash keys (vLLM puts `cache_salt` in the first block's), or null. */
  extraKeys: (unknown[] | null)[] | null;
  /** KV cache group (hybrid models); 0 or absent for the full-attention group. */
  groupIdx: number | null;
}

export interface BlockRemoved {
  type: 'BlockRemoved';
  blockHashes: bigint[];
  medium: string | null;
  groupIdx: number | null;
}

export interface AllBlocksCleared {
  type: 'AllBlocksCleared';
}

export type KvEvent = BlockStored | BlockRemoved | AllBlocksCleared;

export interface KvEventBatch {
  /** Seconds since the epoch. */
  ts: number;
  events: KvEvent[];
  dataParallelRank: number | null;
}

/** A payload that is not a KV event batch; the subscriber counts it and drops it. */
export class KvEventFormatError extends Error {}

/** Largest token id accepted (they are stored as int32). */
const MAX_TOKEN_ID = 2 ** 31 - 1;

/**
 * Encodes a batch as vLLM's publisher does. `ts` is always written as a float64 (msgspec's `float`), so
 * strict decoders reading the first field as a double accept whole-second timestamps too.
 */
export function encodeKvEventBatch(batch: KvEventBatch, format: KvEventFormat = 'map'): Uint8Array {
  const events = encode(
    batch.events.map((event) => (format === 'map' ? eventAsMap(event) : eventAsArray(event))),
    { useBigInt64: true },
  );
  const rank = batch.dataParallelRank === null ? undefined : encode(batch.dataParallelRank);
  const out = new Uint8Array(1 + 9 + events.length + (rank?.length ?? 0));
  out[0] = 0x90 | (rank === undefined ? 2 : 3); // fixarray
  out[1] = 0xcb; // float 64
  new DataView(out.buffer).setFloat64(2, batch.ts);
  out.set(events, 10);
  if (rank) out.set(rank, 10 + events.length);
  return out;
}

function eventAsMap(event: KvEvent): Record<string, unknown> {
  switch (event.type) {
    case 'BlockStored':
      return {
        type: event.type,
        block_hashes: event.blockHashes.map(hashOut),
        parent_block_hash: event.parentBlockHash === null ? null : hashOut(event.parentBlockHash),
        token_ids: [...event.tokenIds],
        block_size: event.blockSize,
        lora_id: null,
        medium: event.medium,
        lora_name: null,
        ...(event.extraKeys !== null && { extra_keys: event.extraKeys }),
        ...(event.groupIdx !== null && { group_idx: event.groupIdx, kv_cache_spec_kind: 'full_attention' }),
      };
    case 'BlockRemoved':
      return {
        type: event.type,
        block_hashes: event.blockHashes.map(hashOut),
        medium: event.medium,
        ...(event.groupIdx !== null && { group_idx: event.groupIdx }),
      };
    case 'AllBlocksCleared':
      return { type: event.type };
  }
}

/** The positional layout older vLLM (array_like structs) published and llm-d's first decoder reads. */
function eventAsArray(event: KvEvent): unknown[] {
  switch (event.type) {
    case 'BlockStored':
      return [
        event.type,
        event.blockHashes.map(hashOut),
        event.parentBlockHash === null ? null : hashOut(event.parentBlockHash),
        [...event.tokenIds],
        event.blockSize,
        null,
        event.medium,
      ];
    case 'BlockRemoved':
      return [event.type, event.blockHashes.map(hashOut), event.medium];
    case 'AllBlocksCleared':
      return [event.type];
  }
}

/** Hashes that fit a double exactly go out as plain ints (msgpack's smallest form), others as uint64. */
function hashOut(hash: bigint): number | bigint {
  return hash <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(hash) : hash;
}

/** Decodes one payload; throws `KvEventFormatError` naming what is wrong. Unknown event tags are skipped. */
export function decodeKvEventBatch(payload: Uint8Array): KvEventBatch {
  let value: unknown;
  try {
    value = decode(payload, { useBigInt64: true });
  } catch (error) {
    throw new KvEventFormatError(`not msgpack: ${(error as Error).message}`);
  }
  if (!Array.isArray(value) || value.length < 2) throw new KvEventFormatError('a batch is an array [ts, events, data_parallel_rank?]');
  const [ts, events, rank] = value as unknown[];
  const seconds = typeof ts === 'bigint' ? Number(ts) : ts;
  if (typeof seconds !== 'number' || !Number.isFinite(seconds)) throw new KvEventFormatError('batch ts: expected a number');
  if (!Array.isArray(events)) throw new KvEventFormatError('batch events: expected an array');
  const decoded: KvEvent[] = [];
  events.forEach((raw, i) => {
    const event = decodeEvent(raw, `events[${i}]`);
    if (event) decoded.push(event);
  });
  return { ts: seconds, events: decoded, dataParallelRank: rank === undefined || rank === null ? null : intField(rank, 'data_parallel_rank', 0) };
}

/** Field names of the positional layout, by tag (the fields this module reads). */
const POSITIONS: Record<string, readonly string[]> = {
  BlockStored: ['block_hashes', 'parent_block_hash', 'token_ids', 'block_size', 'lora_id', 'medium', 'lora_name', 'extra_keys', 'group_idx'],
  BlockRemoved: ['block_hashes', 'medium', 'group_idx'],
  AllBlocksCleared: [],
};

function decodeEvent(raw: unknown, where: string): KvEvent | undefined {
  let tag: unknown;
  let fields: Record<string, unknown>;
  if (Array.isArray(raw)) {
    tag = raw[0];
    const names = typeof tag === 'string' ? POSITIONS[tag] : undefined;
    fields = {};
    names?.forEach((name, i) => (fields[name] = raw[i + 1]));
  } else if (raw instanceof Map || (typeof raw === 'object' && raw !== null && !(raw instanceof Uint8Array))) {
    fields = raw instanceof Map ? Object.fromEntries(raw) : (raw as Record<string, unknown>);
    tag = fields.type;
  } else {
    throw new KvEventFormatError(`${where}: expected a tagged map or array`);
  }
  if (typeof tag !== 'string') throw new KvEventFormatError(`${where}: no event tag`);
  switch (tag) {
    case 'BlockStored': {
      const blockHashes = hashList(fields.block_hashes, `${where}.block_hashes`);
      const blockSize = intField(fields.block_size, `${where}.block_size`, 1);
      const tokenIds = tokenList(fields.token_ids, `${where}.token_ids`);
      if (tokenIds.length !== blockHashes.length * blockSize) {
        throw new KvEventFormatError(`${where}.token_ids: ${tokenIds.length} tokens for ${blockHashes.length} blocks of ${blockSize}`);
      }
      const parent = fields.parent_block_hash;
      const extra = fields.extra_keys;
      if (extra !== undefined && extra !== null && (!Array.isArray(extra) || extra.length !== blockHashes.length)) {
        throw new KvEventFormatError(`${where}.extra_keys: expected one entry per block`);
      }
      return {
        type: tag,
        blockHashes,
        parentBlockHash: parent === null || parent === undefined ? null : hashOf(parent, `${where}.parent_block_hash`),
        tokenIds,
        blockSize,
        medium: optionalString(fields.medium, `${where}.medium`),
        extraKeys: Array.isArray(extra) ? extra.map((keys) => (Array.isArray(keys) ? keys : null)) : null,
        groupIdx: fields.group_idx === undefined || fields.group_idx === null ? null : intField(fields.group_idx, `${where}.group_idx`, 0),
      };
    }
    case 'BlockRemoved':
      return {
        type: tag,
        blockHashes: hashList(fields.block_hashes, `${where}.block_hashes`),
        medium: optionalString(fields.medium, `${where}.medium`),
        groupIdx: fields.group_idx === undefined || fields.group_idx === null ? null : intField(fields.group_idx, `${where}.group_idx`, 0),
      };
    case 'AllBlocksCleared':
      return { type: tag };
    default:
      return undefined;
  }
}

/** A block hash as an unsigned 64-bit bigint: ints as given (negative int64 wraps), bytes by their last 8. */
export function hashOf(value: unknown, where: string): bigint {
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new KvEventFormatError(`${where}: expected an integer or bytes`);
    return BigInt.asUintN(64, BigInt(value));
  }
  if (typeof value === 'bigint') return BigInt.asUintN(64, value);
  if (value instanceof Uint8Array) {
    if (value.length === 0) throw new KvEventFormatError(`${where}: empty bytes`);
    let hash = 0n;
    for (const byte of value.subarray(Math.max(0, value.length - 8))) hash = (hash << 8n) | BigInt(byte);
    return hash;
  }
  throw new KvEventFormatError(`${where}: expected an integer or bytes`);
}

function hashList(value: unknown, where: string): bigint[] {
  if (!Array.isArray(value)) throw new KvEventFormatError(`${where}: expected an array`);
  return value.map((hash, i) => hashOf(hash, `${where}[${i}]`));
}

function tokenList(value: unknown, where: string): Int32Array {
  if (!Array.isArray(value)) throw new KvEventFormatError(`${where}: expected an array`);
  const out = new Int32Array(value.length);
  for (let i = 0; i < value.length; i++) {
    const token = value[i];
    if (typeof token !== 'number' || !Number.isInteger(token) || token < 0 || token > MAX_TOKEN_ID) {
      throw new KvEventFormatError(`${where}[${i}]: expected a token id`);
    }
    out[i] = token;
  }
  return out;
}

function intField(value: unknown, where: string, min: number): number {
  const number = typeof value === 'bigint' ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isSafeInteger(number) || number < min) throw new KvEventFormatError(`${where}: expected an integer >= ${min}`);
  return number;
}

function optionalString(value: unknown, where: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') throw new KvEventFormatError(`${where}: expected a string`);
  return value;
}

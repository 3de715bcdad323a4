/**
 * Where KV blocks live: a host store of typed arrays (CPU memory, the HiCache tier) and a device store of
 * tfjs tensors (GPU memory under tfjs-node-gpu; backend memory otherwise). Both have a capacity in bytes,
 * turned into block slots. Each slot remembers the checksum its content should have, carried along by
 * copies (not recomputed: that would double the cost being measured), so `verify` can check every copy.
 */
import type { Tensor } from '@tensorflow/tfjs';
import { InputError } from '../errors.js';
import type { Tf } from './backend.js';
import { formatShape, type KvBlockShape } from './block-shape.js';
import { blockChecksum, fillBlock } from './checksum.js';

/** Block slots in `capacityBytes`; a store that cannot hold one block is a usage error. */
export function slotsFor(capacityBytes: number, block: KvBlockShape, label: string): number {
  const slots = Math.floor(capacityBytes / block.bytes);
  if (!(slots >= 1)) {
    throw new InputError(
      `${label}: ${capacityBytes} bytes cannot hold one KV block of ${block.bytes} bytes ` +
        `(shape ${formatShape(block.shape)}); give it more bytes or lower --tensor-scale`,
    );
  }
  return slots;
}

function checkSlot(slot: number, capacity: number, label: string): void {
  if (!Number.isInteger(slot) || slot < 0 || slot >= capacity) throw new RangeError(`${label}: slot ${slot} outside [0, ${capacity})`);
}

export class HostBlockStore {
  readonly capacity: number;
  readonly #block: KvBlockShape;
  readonly #label: string;
  /** Allocated on first use, so a large capacity costs nothing until it is filled. */
  readonly #slots: (Float32Array | undefined)[];
  readonly #expected: (number | undefined)[];

  constructor(block: KvBlockShape, capacityBytes: number, label = 'host store') {
    this.capacity = slotsFor(capacityBytes, block, label);
    this.#block = block;
    this.#label = label;
    this.#slots = new Array<Float32Array | undefined>(this.capacity);
    this.#expected = new Array<number | undefined>(this.capacity);
  }

  /** The slot's memory (zeros until written). */
  view(slot: number): Float32Array {
    checkSlot(slot, this.capacity, this.#label);
    let data = this.#slots[slot];
    if (!data) {
      data = new Float32Array(this.#block.elements);
      this.#slots[slot] = data;
    }
    return data;
  }

  /** Writes deterministic content derived from `seed` and records its checksum. */
  fill(slot: number, seed: number): void {
    const data = this.view(slot);
    fillBlock(data, seed);
    this.#expected[slot] = blockChecksum(data);
  }

  /** The checksum the slot's content should have, undefined for a slot never written. */
  expected(slot: number): number | undefined {
    return this.#expected[slot];
  }

  /** Records that a copy put content with checksum `sum` into the slot. */
  noteCopied(slot: number, sum: number | undefined): void {
    this.#expected[slot] = sum;
  }

  /** Whether the slot holds what it should (slots never written verify trivially). */
  verify(slot: number): boolean {
    const expected = this.#expected[slot];
    return expected === undefined || blockChecksum(this.view(slot)) === expected;
  }

  /** Slots written so far. */
  writtenSlots(): number[] {
    return this.#expected.flatMap((sum, slot) => (sum === undefined ? [] : [slot]));
  }
}

export class DeviceBlockStore {
  readonly capacity: number;
  readonly #tf: Tf;
  readonly #block: KvBlockShape;
  readonly #label: string;
  readonly #slots: (Tensor | undefined)[];
  readonly #expected: (number | undefined)[];
  #used = 0;

  constructor(tf: Tf, block: KvBlockShape, capacityBytes: number, label = 'device store') {
    this.capacity = slotsFor(capacityBytes, block, label);
    this.#tf = tf;
    this.#block = block;
    this.#label = label;
    this.#slots = new Array<Tensor | undefined>(this.capacity);
    this.#expected = new Array<number | undefined>(this.capacity);
  }

  get block(): KvBlockShape {
    return this.#block;
  }

  /** Slots holding a tensor. */
  get used(): number {
    return this.#used;
  }

  /** Makes a device tensor of the block's shape from host data (the backend decides whether it copies). */
  upload(data: Float32Array): Tensor {
    return this.#tf.tensor(data, this.#block.shape, 'float32');
  }

  /** Stores `tensor` in the slot, disposing what was there; the store owns it from now on. */
  put(slot: number, tensor: Tensor, sum: number | undefined): void {
    checkSlot(slot, this.capacity, this.#label);
    const previous = this.#slots[slot];
    if (previous) previous.dispose();
    else this.#used++;
    this.#slots[slot] = tensor;
    this.#expected[slot] = sum;
  }

  get(slot: number): Tensor | undefined {
    checkSlot(slot, this.capacity, this.#label);
    return this.#slots[slot];
  }

  expected(slot: number): number | undefined {
    return this.#expected[slot];
  }

  /** Frees one slot. */
  evict(slot: number): void {
    checkSlot(slot, this.capacity, this.#label);
    const tensor = this.#slots[slot];
    if (!tensor) return;
    tensor.dispose();
    this.#slots[slot] = undefined;
    this.#expected[slot] = undefined;
    this.#used--;
  }

  /** Whether the slot's tensor holds what it should (empty slots verify trivially). */
  async verify(slot: number): Promise<boolean> {
    const tensor = this.get(slot);
    const expected = this.#expected[slot];
    if (!tensor || expected === undefined) return true;
    const data = (await tensor.data()) as Float32Array;
    return blockChecksum(data) === expected;
  }

  /** Slots holding a tensor. */
  occupiedSlots(): number[] {
    return this.#slots.flatMap((tensor, slot) => (tensor ? [slot] : []));
  }

  /** Disposes every tensor; the store is empty afterwards and can be reused. */
  dispose(): void {
    for (let slot = 0; slot < this.capacity; slot++) this.evict(slot);
  }
}

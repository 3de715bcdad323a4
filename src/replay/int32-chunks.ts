/**
 * A growable list of int32 values in fixed 4 MiB chunks: appending never copies what is stored, so a
 * list of hundreds of millions of values costs its size, without the doubling slack and the transient
 * old-plus-new copy of a growing typed array.
 */
const CHUNK_BITS = 20;
const CHUNK = 1 << CHUNK_BITS;
const MASK = CHUNK - 1;

export class Int32Chunks {
  #chunks: Int32Array[] = [];
  #length = 0;

  get length(): number {
    return this.#length;
  }

  push(value: number): void {
    const at = this.#length++;
    if ((at & MASK) === 0) this.#chunks.push(new Int32Array(CHUNK));
    this.#chunks[at >>> CHUNK_BITS]![at & MASK] = value;
  }

  /** Makes room for `length` values in all (new ones are 0). */
  resize(length: number): void {
    while (this.#chunks.length * CHUNK < length) this.#chunks.push(new Int32Array(CHUNK));
    this.#length = length;
  }

  get(at: number): number {
    return this.#chunks[at >>> CHUNK_BITS]![at & MASK]!;
  }

  set(at: number, value: number): void {
    this.#chunks[at >>> CHUNK_BITS]![at & MASK] = value;
  }

  /** Copies values `[from, from + out.length)` into `out`. */
  copyTo(from: number, out: Int32Array): void {
    for (let i = 0; i < out.length; i++) out[i] = this.get(from + i);
  }
}

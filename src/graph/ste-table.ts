/**
 * The STE values an `SteSource` serves, with the log of what changed since the last `takeChanges`, so
 * consumers pay for changes rather than re-reading every agent on every event.
 */
export class SteTable {
  readonly #values = new Map<string, number>();
  #changes = new Map<string, number | undefined>();
  #version = 0;

  /** Changes whenever a value changes. */
  get version(): number {
    return this.#version;
  }

  /** Every key with a known STE. */
  get values(): ReadonlyMap<string, number> {
    return this.#values;
  }

  /** Sets a key's STE (undefined: unknown); a no-op when it is unchanged. */
  set(key: string, value: number | undefined): void {
    if (this.#values.get(key) === value) return;
    if (value === undefined) this.#values.delete(key);
    else this.#values.set(key, value);
    this.#changes.set(key, value);
    this.#version++;
  }

  /** Keys changed since the last call, with their new values (undefined: no longer known). */
  takeChanges(): ReadonlyMap<string, number | undefined> {
    const changes = this.#changes;
    this.#changes = new Map();
    return changes;
  }
}

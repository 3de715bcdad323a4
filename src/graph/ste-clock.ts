/**
 * STE values kept relative to a clock per workflow instance. A step of a chain moves every agent within
 * reach one step nearer: with absolute values that is one change per agent (18 in a chain longer than the
 * gateway's horizon), relative to the instance's clock it is one clock move, and only agents entering or
 * leaving reach change. A key's STE is its relative value minus its clock's value.
 *
 * `ClockedSteLog` records both forms as an instance's events are folded in; `ClockedSteChanges` is one
 * take of it. A consumer that knows clocks (the ste policy, src/cache/ste-policy.ts) applies the relative
 * form; any other reads the take as the Map of absolute changes it always was (same keys, values and
 * order), built on its first read.
 */

/** One instance's clock. */
export class SteClock {
  value = 0;
  /** The log take this clock was last listed in, and its index there (no Map lookup per change). */
  takeNumber = -1;
  takeIndex = -1;
}

/** Where changes accumulate between takes. */
export class ClockedSteLog {
  // Absolute changes, in the order they happened (NaN: unknown).
  #keys: string[] = [];
  #values: number[] = [];
  #length = 0;
  // Relative changes, with the index of their clock in `#clocks` (NaN: unknown).
  #relKeys: string[] = [];
  #relClocks: number[] = [];
  #relValues: number[] = [];
  #relLength = 0;
  // Clocks the relative changes refer to, and whether each moved in this take.
  #clocks: SteClock[] = [];
  #moved: boolean[] = [];
  #clockCount = 0;
  #takes = 0;

  /** `key`'s absolute STE became `value` (undefined: unknown). */
  noteValue(key: string, value: number | undefined): void {
    const at = this.#length++;
    this.#keys[at] = key;
    this.#values[at] = value ?? NaN;
  }

  /** `key`'s value relative to `clock` became `relative` (NaN: unknown). */
  noteRelative(key: string, clock: SteClock, relative: number): void {
    const at = this.#relLength++;
    this.#relKeys[at] = key;
    this.#relClocks[at] = this.#indexOf(clock);
    this.#relValues[at] = relative;
  }

  /** `clock` moved: every key relative to it has a new absolute value. */
  noteMove(clock: SteClock): void {
    this.#moved[this.#indexOf(clock)] = true;
  }

  /** Everything noted since the last take; the log starts empty again. */
  take(): ClockedSteChanges {
    const clocks = this.#clocks.slice(0, this.#clockCount);
    const values: number[] = [];
    for (let c = 0; c < clocks.length; c++) values.push(clocks[c]!.value);
    const changes = new ClockedSteChanges(
      this.#keys.slice(0, this.#length),
      this.#values.slice(0, this.#length),
      {
        keys: this.#relKeys.slice(0, this.#relLength),
        clocks: this.#relClocks.slice(0, this.#relLength),
        values: this.#relValues.slice(0, this.#relLength),
      },
      { clocks, values, moved: this.#moved.slice(0, this.#clockCount) },
    );
    this.#length = this.#relLength = this.#clockCount = 0;
    this.#takes++;
    return changes;
  }

  #indexOf(clock: SteClock): number {
    if (clock.takeNumber !== this.#takes) {
      clock.takeNumber = this.#takes;
      clock.takeIndex = this.#clockCount++;
      this.#clocks[clock.takeIndex] = clock;
      this.#moved[clock.takeIndex] = false;
    }
    return clock.takeIndex;
  }
}

/** Keys whose value relative to their clock changed (NaN: unknown), each with the index of its clock. */
export interface RelativeChanges {
  readonly keys: readonly string[];
  readonly clocks: readonly number[];
  readonly values: readonly number[];
}

/** The clocks relative changes refer to, with their values as of the take and whether they moved. */
export interface ClockMoves {
  readonly clocks: readonly SteClock[];
  readonly values: readonly number[];
  readonly moved: readonly boolean[];
}

/**
 * One take of a clocked log. As a ReadonlyMap: the keys whose absolute STE changed, in the order they first
 * changed, with their latest value (undefined: unknown), as `SteTable.takeChanges` gives them; the Map is
 * built on the first read, so a consumer that reads `relative` and `moves` never pays for it.
 */
export class ClockedSteChanges implements ReadonlyMap<string, number | undefined> {
  readonly #keys: string[];
  readonly #values: number[];
  #map: Map<string, number | undefined> | undefined;

  constructor(
    keys: string[],
    values: number[],
    readonly relative: RelativeChanges,
    readonly moves: ClockMoves,
  ) {
    this.#keys = keys;
    this.#values = values;
  }

  get size(): number {
    return this.#expand().size;
  }

  get(key: string): number | undefined {
    return this.#expand().get(key);
  }

  has(key: string): boolean {
    return this.#expand().has(key);
  }

  forEach(callback: (value: number | undefined, key: string, map: ReadonlyMap<string, number | undefined>) => void, thisArg?: unknown): void {
    for (const [key, value] of this.#expand()) callback.call(thisArg, value, key, this);
  }

  entries(): MapIterator<[string, number | undefined]> {
    return this.#expand().entries();
  }

  keys(): MapIterator<string> {
    return this.#expand().keys();
  }

  values(): MapIterator<number | undefined> {
    return this.#expand().values();
  }

  [Symbol.iterator](): MapIterator<[string, number | undefined]> {
    return this.#expand().entries();
  }

  #expand(): Map<string, number | undefined> {
    if (this.#map) return this.#map;
    const map = new Map<string, number | undefined>();
    const keys = this.#keys;
    const values = this.#values;
    for (let i = 0; i < keys.length; i++) map.set(keys[i]!, Number.isNaN(values[i]!) ? undefined : values[i]!);
    return (this.#map = map);
  }
}

import type { SteSource } from '../types.js';

/**
 * Follows an STE source and yields what changed since the last look, using the source's own change
 * list when it keeps one, else a diff of snapshots (O(agents), fine for small graphs).
 */
export class SteChangeFeed {
  readonly #source: SteSource;
  #version = -1;
  #previous = new Map<string, number>();

  constructor(source: SteSource) {
    this.#source = source;
  }

  /** Changed keys (undefined: no longer known), or undefined when nothing moved. */
  take(): ReadonlyMap<string, number | undefined> | undefined {
    if (this.#source.version === this.#version) return undefined;
    this.#version = this.#source.version;
    if (this.#source.takeChanges) return this.#source.takeChanges();
    const next = this.#source.snapshot();
    const changes = new Map<string, number | undefined>();
    for (const [key, value] of next) if (this.#previous.get(key) !== value) changes.set(key, value);
    for (const key of this.#previous.keys()) if (!next.has(key)) changes.set(key, undefined);
    this.#previous = new Map(next);
    return changes;
  }
}

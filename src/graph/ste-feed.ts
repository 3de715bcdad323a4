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
    const changes = diffSnapshots(this.#previous, next);
    this.#previous = new Map(next);
    return changes;
  }
}

/**
 * Keys whose value differs between two STE snapshots (undefined: no longer known). The one diff for
 * every consumer of full snapshots: this feed, and the engine taking a full `/v1/update` table.
 */
export function diffSnapshots(previous: ReadonlyMap<string, number>, next: ReadonlyMap<string, number>): Map<string, number | undefined> {
  const changes = new Map<string, number | undefined>();
  for (const [key, value] of next) if (previous.get(key) !== value) changes.set(key, value);
  for (const key of previous.keys()) if (!next.has(key)) changes.set(key, undefined);
  return changes;
}

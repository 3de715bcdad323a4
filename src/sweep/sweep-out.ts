/**
 * `kvflow sweep --out FILE`: results reach the file as runs finish, so a sweep that fails late (or is
 * stopped) keeps what it computed. While running and after a failure the file is a valid JSON document
 * with the finished runs in grid order and an `incomplete` note; after success it is exactly the sweep's
 * document. Every write replaces the file whole (write a temporary file, then rename).
 */
import { rename, writeFile } from 'node:fs/promises';
import type { SweepDocument } from './sweep.js';
import type { SweepGrid } from './sweep-grid.js';
import type { SweepRunOutput } from './sweep-point.js';

export class SweepOutFile {
  readonly #path: string;
  readonly #grid: SweepGrid;
  readonly #runs: SweepDocument['runs'] = [];
  /** Writes run one after another, so a slow write never lands after a newer one. */
  #writes: Promise<void> = Promise.resolve();

  constructor(path: string, grid: SweepGrid) {
    this.#path = path;
    this.#grid = grid;
  }

  /** Writes the empty document: fails before any run if the file cannot be written. */
  async start(): Promise<void> {
    await this.#write(this.#partial());
  }

  /** Adds a finished run and rewrites the file. */
  add(output: SweepRunOutput): Promise<void> {
    const run = this.#grid.runs[output.index]!;
    this.#runs.push({ index: output.index, params: run.params, report: output.report });
    this.#runs.sort((a, b) => a.index - b.index);
    return this.#queue(() => this.#partial());
  }

  /** The sweep failed: the file keeps the finished runs and says what stopped it. */
  fail(error: unknown): Promise<void> {
    const reason = error instanceof Error ? error.message : String(error);
    return this.#queue(() => ({ ...this.#partial(), incomplete: { done: this.#runs.length, total: this.#grid.runs.length, error: reason } }));
  }

  /** The sweep finished: the file becomes its document, byte-identical to what stdout would get. */
  finish(document: SweepDocument): Promise<void> {
    return this.#queue(() => document);
  }

  #partial(): SweepDocument & { incomplete: { done: number; total: number; error?: string } } {
    const { name, kind, file, runs } = this.#grid;
    return {
      grid: { name, kind, file, runs: runs.length },
      runs: [...this.#runs],
      incomplete: { done: this.#runs.length, total: runs.length },
    };
  }

  #queue(document: () => unknown): Promise<void> {
    this.#writes = this.#writes.then(() => this.#write(document()));
    return this.#writes;
  }

  async #write(document: unknown): Promise<void> {
    const temporary = `${this.#path}.partial`;
    await writeFile(temporary, `${JSON.stringify(document)}\n`);
    await rename(temporary, this.#path);
  }
}

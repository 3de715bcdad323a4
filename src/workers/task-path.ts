import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';

/**
 * The compiled JavaScript of a worker task in this folder. Piscina loads workers as plain JS: from
 * `dist/` this is the sibling file; from the TypeScript sources (tests) it is the same file under
 * `dist/src/workers/`, which the test script builds first.
 */
export function workerScript(name: string): string {
  const sibling = new URL(`./${name}.js`, import.meta.url);
  if (existsSync(fileURLToPath(sibling))) return fileURLToPath(sibling);
  const built = new URL(`../../dist/src/workers/${name}.js`, import.meta.url);
  if (existsSync(fileURLToPath(built))) return fileURLToPath(built);
  throw new Error(`worker script ${name}.js not found next to ${fileURLToPath(import.meta.url)} nor in dist/: run npm run build`);
}

/** Worker threads worth starting on this machine for `tasks` independent tasks. */
export function defaultWorkers(tasks: number): number {
  return Math.max(1, Math.min(tasks, availableParallelism()));
}

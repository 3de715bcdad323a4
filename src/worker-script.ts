import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The compiled JavaScript of a worker task that sits beside `callerUrl` (pass `import.meta.url`).
 * Piscina loads workers as plain JS: from `dist/` this is the sibling file; from the TypeScript
 * sources (tests) it is the same file under `dist/src/<folder>/`, which the test script builds first.
 */
export function workerScript(callerUrl: string, name: string): string {
  const sibling = new URL(`./${name}.js`, callerUrl);
  if (existsSync(fileURLToPath(sibling))) return fileURLToPath(sibling);
  const folder = basename(dirname(fileURLToPath(callerUrl)));
  const built = new URL(`../../dist/src/${folder}/${name}.js`, callerUrl);
  if (existsSync(fileURLToPath(built))) return fileURLToPath(built);
  throw new Error(`worker script ${name}.js not found next to ${fileURLToPath(callerUrl)} nor in dist/: run npm run build`);
}

/** Worker threads worth starting on this machine for `tasks` independent tasks. */
export function defaultWorkers(tasks: number): number {
  return Math.max(1, Math.min(tasks, availableParallelism()));
}

import { fileURLToPath } from 'node:url';

/** The repository root, whether the bench runs from `bench/` (tsx) or `dist/bench/` (compiled). */
const here = fileURLToPath(new URL('.', import.meta.url));
export const repoRoot = here.includes('/dist/') ? fileURLToPath(new URL('../../', import.meta.url)) : fileURLToPath(new URL('../', import.meta.url));

/** Real public traces live beside the repository, never inside it. */
export function sharedTrace(name: string): string {
  return `${repoRoot}../shared/traces/${name}`;
}

import { fileURLToPath } from 'node:url';

/** The repository root, whether the bench runs from `bench/` (tsx) or `dist/bench/` (compiled). */
const here = fileURLToPath(new URL('.', import.meta.url));
export const repoRoot = here.includes('/dist/') ? fileURLToPath(new URL('../../', import.meta.url)) : fileURLToPath(new URL('../', import.meta.url));

/** Real public traces live beside the repository, never inside it (or in KVFLOW_TRACES_DIR, as for the tests). */
export function sharedTrace(name: string): string {
  const dir = process.env.KVFLOW_TRACES_DIR;
  return dir ? `${dir.replace(/\/$/, '')}/${name}` : `${repoRoot}../shared/traces/${name}`;
}

/**
 * Checks a sweep can run to the end before it starts: every file any run names is readable and the output
 * folders are writable. A grid is validated field by field when it is read (sweep-grid.ts); this adds what
 * only the file system can say, so a typo in the last grid point fails in a second, not after an hour.
 */
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { InputError } from '../errors.js';
import { runLabel, type SweepGrid } from './sweep-grid.js';

const INPUT_FIELDS = ['workload', 'trace', 'config', 'workflow'] as const;

export async function preflightSweep(grid: SweepGrid, outputs: { flag: string; path: string | undefined }[]): Promise<void> {
  const checked = new Map<string, boolean>();
  for (const run of grid.runs) {
    for (const field of INPUT_FIELDS) {
      const path = run.config[field];
      if (typeof path !== 'string') continue;
      if (!checked.has(path)) checked.set(path, await readable(path));
      if (!checked.get(path)) {
        throw InputError.atPath(grid.file, `runs.${run.index} (${runLabel(run)}).${field}`, `cannot read ${path}`);
      }
    }
  }
  for (const { flag, path } of outputs) {
    if (path === undefined) continue;
    const folder = dirname(resolve(path));
    if (!(await writable(folder))) throw InputError.flag(flag, `cannot write ${path}: folder ${folder} is missing or read-only`);
  }
}

async function readable(path: string): Promise<boolean> {
  try {
    await access(path, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

async function writable(folder: string): Promise<boolean> {
  try {
    await access(folder, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

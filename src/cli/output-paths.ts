import { accessSync, constants, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { InputError } from '../errors.js';

/**
 * Checks before any work that `path` can be written (its folder exists and is writable, and it is not a
 * folder itself), so a long run never ends by failing to save what it computed.
 */
export function checkWritable(path: string | undefined, flag: string): void {
  if (path === undefined) return;
  const full = resolve(path);
  const existing = statOrUndefined(full);
  if (existing?.isDirectory()) throw InputError.flag(flag, `${path} is a directory; give a file path`);
  const folder = dirname(full);
  const parent = statOrUndefined(folder);
  if (!parent) throw InputError.flag(flag, `${path}: folder ${dirname(path)} does not exist`);
  if (!parent.isDirectory()) throw InputError.flag(flag, `${path}: ${dirname(path)} is not a folder`);
  try {
    accessSync(existing ? full : folder, constants.W_OK);
  } catch {
    throw InputError.flag(flag, `${path}: not writable (permission denied)`);
  }
}

function statOrUndefined(path: string) {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

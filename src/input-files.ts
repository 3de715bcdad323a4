import { readFile } from 'node:fs/promises';
import { InputError } from './errors.js';

/** A user-named file's text; a missing or unreadable file is an `InputError` naming it (exit 2). */
export async function readInputText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new InputError(`${path}: no such file`);
    if (code === 'EISDIR') throw new InputError(`${path}: not a file`);
    throw new InputError(`${path}: cannot read: ${code ?? String(error)}`);
  }
}

/** A user-named JSON document, parsed; bad JSON is `path: (root): invalid JSON: ...`. */
export async function readInputJson(path: string): Promise<unknown> {
  const text = await readInputText(path);
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw InputError.atPath(path, '', `invalid JSON: ${(error as Error).message}`);
  }
}

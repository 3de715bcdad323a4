import type { SteSource } from '../types.js';
export async function loadSteSource(_path: string): Promise<() => SteSource> {
  throw new Error('not yet');
}

import { open, stat } from 'node:fs/promises';

/**
 * Roughly how many lines a file has, from its size and the line length in its first 256 KiB: enough
 * to size a progress bar before a single-pass read. Returns 0 when unknown.
 */
export async function estimateLineCount(path: string): Promise<number> {
  try {
    const { size } = await stat(path);
    const handle = await open(path, 'r');
    try {
      const buffer = Buffer.alloc(Math.min(size, 256 * 1024));
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
      let lines = 0;
      for (let i = 0; i < bytesRead; i++) if (buffer[i] === 10) lines++;
      if (bytesRead === size) return lines + (size > 0 && buffer[bytesRead - 1] !== 10 ? 1 : 0);
      return lines > 0 ? Math.round((size * lines) / bytesRead) : 0;
    } finally {
      await handle.close();
    }
  } catch {
    return 0;
  }
}

/** The chunked int32 list the streaming replay keeps its prefix ids and next uses in. */
import { describe, expect, it } from 'vitest';
import { Int32Chunks } from '../../src/replay/int32-chunks.js';

describe('Int32Chunks', () => {
  it('keeps values across chunk boundaries', () => {
    const list = new Int32Chunks();
    const n = (1 << 20) + 5;
    for (let i = 0; i < n; i++) list.push(i ^ 0x5a5a);
    expect(list.length).toBe(n);
    expect(list.get((1 << 20) - 1)).toBe(((1 << 20) - 1) ^ 0x5a5a);
    expect(list.get(1 << 20)).toBe((1 << 20) ^ 0x5a5a);
    const out = new Int32Array(4);
    list.copyTo((1 << 20) - 2, out);
    expect([...out]).toEqual([0, 1, 2, 3].map((k) => ((1 << 20) - 2 + k) ^ 0x5a5a));
    list.resize(n + 3);
    list.set(n + 2, -7);
    expect(list.get(n + 2)).toBe(-7);
    expect(list.get(n)).toBe(0);
  });
});

/**
 * PrefixSignatures (src/graph/prefix-signatures.ts) on small prompts whose node ids follow by hand: nodes
 * are numbered in the order their prefixes were first recorded, the root is 0.
 */
import { describe, expect, it } from 'vitest';
import { PrefixSignatures } from '../../src/graph/prefix-signatures.js';

describe('PrefixSignatures', () => {
  it('a prefix continued in two different ways by full, non-final blocks is a signature', () => {
    const s = new PrefixSignatures();
    s.record([1, 2, 3]); // nodes 1, 2, 3
    s.record([1, 2, 4]); // node 4: the prefix [1, 2] went on with two different *final* blocks only
    expect(s.identify([1, 2, 5, 6])).toBeUndefined();
    s.record([1, 2, 3, 9]); // node 5; 3 now continues [1, 2] as a full block
    expect(s.identify([1, 2, 5, 6])).toBeUndefined(); // one way so far
    s.record([1, 2, 3, 9]); // the same way again is not a branch
    expect(s.identify([1, 2, 5, 6])).toBeUndefined();
    s.record([1, 2, 4, 9]); // node 6: a second way
    expect(s.identify([1, 2, 5, 6])).toEqual({ node: 2, depth: 2 });
    expect(s.identify([1, 2])).toEqual({ node: 2, depth: 2 }); // a prompt ending at the signature
    expect(s.identify([1])).toBeUndefined();
    expect(s.identify([7, 1, 2])).toBeUndefined();
    expect(s.size).toBe(6);
  });

  it('returns the deepest signature on the path, and ignores those shallower than minDepth', () => {
    const s = new PrefixSignatures({ minDepth: 2 });
    s.record([1, 10, 11, 19]); // nodes 1-4
    s.record([1, 20, 21]); // nodes 5, 6: [1] branches (10 and 20) at depth 1, below minDepth
    expect(s.identify([1, 10, 30])).toBeUndefined();
    s.record([1, 10, 12, 13]); // nodes 7, 8: [1, 10] branches (11 and 12, both full blocks there)
    expect(s.identify([1, 10, 30])).toEqual({ node: 2, depth: 2 });
    s.record([1, 10, 12, 14, 15]); // nodes 9, 10: [1, 10, 12] went on with 13 (final) and 14: one way
    expect(s.identify([1, 10, 12, 40])).toEqual({ node: 2, depth: 2 });
    s.record([1, 10, 12, 16, 15]); // nodes 11, 12: a second way
    expect(s.identify([1, 10, 12, 40])).toEqual({ node: 7, depth: 3 });
    expect(s.identify([1, 10, 11])).toEqual({ node: 2, depth: 2 }); // leaves the deeper one at depth 3
    const shallow = new PrefixSignatures({ minDepth: 1 });
    shallow.record([1, 10, 11]);
    shallow.record([1, 20, 21]);
    expect(shallow.identify([1, 30])).toEqual({ node: 1, depth: 1 });
    const deep = new PrefixSignatures({ minDepth: 3 });
    deep.record([1, 10, 11, 12]);
    deep.record([1, 10, 20, 21]);
    expect(deep.identify([1, 10, 30, 31])).toBeUndefined(); // depth 2 < 3
  });

  it('keeps node ids and depths past its first 1,024 nodes', () => {
    const s = new PrefixSignatures();
    s.record([1, 2, 3, 4, 8]); // nodes 1-5
    s.record([1, 2, 3, 5, 6]); // nodes 6, 7: [1, 2, 3] went on with 4 and 5
    for (let i = 0; i < 700; i++) s.record([1000 + i, 5000 + i]); // 1,400 more nodes
    expect(s.size).toBe(1407);
    s.record([1000, 5000, 9, 9]); // nodes 1408, 1409
    s.record([1000, 5000, 7, 9]); // nodes 1410, 1411: [1000, 5000] (nodes 8, 9) went on with 9 and 7
    expect(s.identify([1, 2, 3, 7])).toEqual({ node: 3, depth: 3 });
    expect(s.identify([1000, 5000, 1])).toEqual({ node: 9, depth: 2 });
    expect(s.identify([1001, 5001])).toBeUndefined();
  });

  it('keeps the depth of node 1,024, the first id past its first records', () => {
    const s = new PrefixSignatures();
    const path = Array.from({ length: 1030 }, (_, i) => i + 1);
    s.record(path); // nodes 1-1,030: node i is the prefix of i pages
    s.record([...path.slice(0, 1024), 7777, 8888]); // node 1,024 goes on with block 1,025 and with 7,777
    expect(s.identify(path)).toEqual({ node: 1024, depth: 1024 });
  });
});

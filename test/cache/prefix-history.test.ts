/**
 * The reuse model's prefix history (src/cache/reuse/prefix-history.ts): nodes, access counts and gaps,
 * continuations, turns, and the sweeps that drop idle prefixes, at their exact bounds.
 */
import { describe, expect, it } from 'vitest';
import { EMPTY_PREFIX, PrefixHistory } from '../../src/cache/reuse/prefix-history.js';

describe('PrefixHistory', () => {
  it('adds nodes under their parent, finds them by (parent, block), counts continuations', () => {
    const history = new PrefixHistory(100);
    expect(history.find(EMPTY_PREFIX, 7)).toBe(-1);
    const a = history.add(EMPTY_PREFIX, 7);
    const b = history.add(a, 8);
    const c = history.add(a, 9);
    const d = history.add(b, 7);
    expect([a, b, c, d]).toEqual([0, 1, 2, 3]);
    expect(history.size).toBe(4);
    expect(history.find(EMPTY_PREFIX, 7)).toBe(a);
    expect(history.find(a, 8)).toBe(b);
    expect(history.find(a, 9)).toBe(c);
    expect(history.find(b, 7)).toBe(d);
    expect(history.find(EMPTY_PREFIX, 8)).toBe(-1);
    expect(history.find(b, 9)).toBe(-1);
    // Node 0 (a) has two continuations, b one, the leaves none.
    expect([a, b, c, d].map((node) => history.children(node))).toEqual([2, 1, 0, 0]);
  });

  it('a new node: never accessed, no gap, no pending sample, no turn', () => {
    const history = new PrefixHistory(100);
    const node = history.add(EMPTY_PREFIX, 1);
    expect([history.lastRequest(node), history.count(node), history.lastGap(node), history.pending(node), history.turnRequest(node)]).toEqual([-1, 0, 0, -1, -1]);
  });

  it('counts accesses and keeps the gap between the last two, from request 0 on', () => {
    const history = new PrefixHistory(100);
    const node = history.add(EMPTY_PREFIX, 1);
    history.access(node, 0);
    expect([history.lastRequest(node), history.count(node), history.lastGap(node)]).toEqual([0, 1, 0]);
    history.access(node, 3);
    expect([history.lastRequest(node), history.count(node), history.lastGap(node)]).toEqual([3, 2, 3]);
    history.access(node, 10);
    expect([history.lastRequest(node), history.count(node), history.lastGap(node)]).toEqual([10, 3, 7]);
    const later = history.add(node, 2);
    history.access(later, 5);
    expect([history.lastRequest(later), history.count(later), history.lastGap(later)]).toEqual([5, 1, 0]);
  });

  it('keeps a pending sample and a turn per node', () => {
    const history = new PrefixHistory(100);
    const node = history.add(EMPTY_PREFIX, 1);
    const other = history.add(EMPTY_PREFIX, 2);
    history.setPending(node, 12);
    history.setTurn(node, 4, 2, 3, 700);
    expect([history.pending(node), history.turnRequest(node), history.turnNumber(node), history.turnGap(node), history.turnTokens(node)]).toEqual([12, 4, 2, 3, 700]);
    expect([history.pending(other), history.turnRequest(other)]).toEqual([-1, -1]);
    history.setPending(node, -1);
    expect(history.pending(node)).toBe(-1);
  });

  it('sweeps once per horizon, dropping prefixes idle for more than the horizon, never unaccessed ones', () => {
    const history = new PrefixHistory(10);
    const a = history.add(EMPTY_PREFIX, 1); // accessed at 0
    const b = history.add(a, 2); // accessed at 0
    const c = history.add(EMPTY_PREFIX, 3); // accessed at 10
    const idle = history.add(EMPTY_PREFIX, 4); // never accessed
    history.access(a, 0);
    history.access(b, 0);
    history.access(c, 10);
    for (let r = 0; r <= 10; r++) history.sweep(r);
    // At 10 (the first sweep), a and b were idle for exactly the horizon: kept.
    expect([history.find(EMPTY_PREFIX, 1), history.find(a, 2), history.find(EMPTY_PREFIX, 3), history.find(EMPTY_PREFIX, 4)]).toEqual([a, b, c, idle]);
    // 11..19: no sweep (the next is at 20), though a and b are now idle for longer.
    for (let r = 11; r < 20; r++) history.sweep(r);
    expect(history.find(EMPTY_PREFIX, 1)).toBe(a);
    expect(history.size).toBe(4);
    history.sweep(20);
    expect([history.find(EMPTY_PREFIX, 1), history.find(a, 2), history.find(EMPTY_PREFIX, 3), history.find(EMPTY_PREFIX, 4)]).toEqual([-1, -1, c, idle]);
    expect(history.size).toBe(2);
    expect(history.lastRequest(a)).toBe(-1);
    // Their ids are reused (last freed first), each once, even after a later sweep.
    history.access(c, 25);
    history.sweep(30);
    const reused = [history.add(EMPTY_PREFIX, 5), history.add(EMPTY_PREFIX, 6), history.add(EMPTY_PREFIX, 7)];
    expect(reused).toEqual([b, a, 4]);
    expect(history.count(b)).toBe(0);
    expect(history.find(EMPTY_PREFIX, 5)).toBe(b);
  });

  it('a sweep drops a prefix accessed at request 0 but not one accessed within the horizon', () => {
    const history = new PrefixHistory(4);
    const old = history.add(EMPTY_PREFIX, 1);
    const recent = history.add(EMPTY_PREFIX, 2);
    history.access(old, 0);
    history.access(recent, 4);
    for (let r = 0; r <= 8; r++) history.sweep(r);
    expect(history.find(EMPTY_PREFIX, 1)).toBe(-1);
    expect(history.find(EMPTY_PREFIX, 2)).toBe(recent);
  });

  it('grows past its first 65,536 nodes, keeping every node', () => {
    const history = new PrefixHistory(1e9);
    let node = EMPTY_PREFIX;
    const nodes: number[] = [];
    for (let i = 0; i < 65_540; i++) {
      node = history.add(node, i);
      nodes.push(node);
    }
    history.access(nodes[0]!, 1);
    const last = nodes[65_539]!;
    expect(last).toBe(65_539);
    history.access(last, 2);
    history.access(last, 7);
    history.setPending(last, 3);
    history.setTurn(last, 7, 1, 5, 99);
    expect([history.lastRequest(last), history.count(last), history.lastGap(last), history.pending(last), history.turnRequest(last), history.turnNumber(last), history.turnGap(last), history.turnTokens(last)]).toEqual([7, 2, 5, 3, 7, 1, 5, 99]);
    expect(history.children(nodes[65_538]!)).toBe(1);
    expect(history.find(nodes[65_538]!, 65_539)).toBe(last);
    expect([history.lastRequest(nodes[0]!), history.count(nodes[0]!), history.children(nodes[0]!)]).toEqual([1, 1, 1]);
    expect(history.pending(65_536)).toBe(-1);
    expect(history.turnRequest(65_536)).toBe(-1);
  });

  it('a sweep with exactly 65,536 nodes (the first table size) frees none that was never accessed', () => {
    const history = new PrefixHistory(1);
    for (let i = 0; i < 65_536; i++) history.add(EMPTY_PREFIX, i);
    history.sweep(10);
    const node = history.add(EMPTY_PREFIX, 1e6);
    expect(node).toBe(65_536);
    history.access(node, 11);
    expect([history.count(node), history.lastRequest(node)]).toEqual([1, 11]);
  });
});

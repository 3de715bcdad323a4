/**
 * Delayed labelling (src/cache/reuse/samples.ts): a waiting sample is labelled 1 when its prefix comes back
 * within the horizon, 0 when the horizon passes first, and dropped unlabelled when the waiting ring is full;
 * labelled rows go to a ring of the most recent ones. Every bound exact.
 */
import { describe, expect, it } from 'vitest';
import { SampleStore } from '../../src/cache/reuse/samples.js';

const WIDTH = 3;

/** A new waiting sample of request `r` whose features are [r, r + 0.5, r + 0.25]. */
function add(store: SampleStore, r: number): number {
  const id = store.add(r);
  store.features.set([r, r + 0.5, r + 0.25], id * WIDTH);
  return id;
}

const trained = (store: SampleStore) => ({
  rows: Array.from({ length: store.trainCount }, (_, k) => [...store.trainFeatures.subarray(k * WIDTH, (k + 1) * WIDTH)]),
  labels: [...store.trainLabels.subarray(0, store.trainCount)],
});

describe('SampleStore', () => {
  it('labels 1 a sample reused within the horizon (exactly the horizon included), in the order labelled', () => {
    const store = new SampleStore(4, 8, 8, WIDTH);
    const a = add(store, 0);
    const b = add(store, 1);
    const c = add(store, 2);
    expect([a, b, c]).toEqual([0, 1, 2]);
    expect([store.createdAt(a), store.createdAt(b), store.createdAt(c)]).toEqual([0, 1, 2]);
    expect(store.features.length).toBe(8 * WIDTH);
    store.reused(b, 1, 5); // 4 requests later: within
    store.reused(a, 0, 3);
    expect(trained(store)).toEqual({ rows: [[1, 1.5, 1.25], [0, 0.5, 0.25]], labels: [1, 1] });
    expect([store.trainCount, store.labelled]).toEqual([2, 2]);
    // A second reuse of a labelled sample changes nothing.
    store.reused(a, 0, 4);
    expect([store.trainCount, store.labelled]).toEqual([2, 2]);
  });

  it('ignores a reuse past the horizon, of no sample (-1), or of a slot that now holds another request', () => {
    const store = new SampleStore(4, 8, 8, WIDTH);
    const a = add(store, 0);
    store.reused(a, 0, 5); // 5 > 4 requests later
    store.reused(-1, 0, 1);
    store.reused(a, 1, 1); // not the request that made it
    expect(store.labelled).toBe(0);
    // Still waiting: labelled 0 when its horizon has passed (not at exactly the horizon).
    store.expire(4);
    expect(store.labelled).toBe(0);
    store.expire(5);
    expect(trained(store)).toEqual({ rows: [[0, 0.5, 0.25]], labels: [0] });
  });

  it('expires in creation order, stops at the first sample still in its horizon, skips labelled ones', () => {
    const store = new SampleStore(2, 8, 8, WIDTH);
    add(store, 0);
    const b = add(store, 1);
    add(store, 3);
    store.reused(b, 1, 2);
    store.expire(4); // 0 expires (4 - 0 > 2), 1 was labelled, 3 waits
    expect(trained(store)).toEqual({ rows: [[1, 1.5, 1.25], [0, 0.5, 0.25]], labels: [1, 0] });
    store.expire(5);
    expect(store.labelled).toBe(2);
    store.expire(6);
    expect(trained(store).labels).toEqual([1, 0, 0]);
    expect(trained(store).rows[2]).toEqual([3, 3.5, 3.25]);
    store.expire(100);
    expect(store.labelled).toBe(3);
  });

  it('a full waiting ring drops its oldest sample unlabelled and reuses its slot', () => {
    const store = new SampleStore(100, 2, 8, WIDTH);
    expect([add(store, 0), add(store, 1), add(store, 2)]).toEqual([0, 1, 0]);
    expect(store.createdAt(0)).toBe(2);
    store.reused(0, 0, 3); // the dropped sample's prefix: nothing
    expect(store.labelled).toBe(0);
    expect(add(store, 3)).toBe(1); // drops request 1's sample
    store.expire(1000);
    expect(trained(store)).toEqual({ rows: [[2, 2.5, 2.25], [3, 3.5, 3.25]], labels: [0, 0] });
    // The ring keeps going after it emptied.
    expect(add(store, 1001)).toBe(0);
    store.reused(0, 1001, 1002);
    expect(trained(store).labels).toEqual([0, 0, 1]);
  });

  it('after a drop the oldest waiting sample is the next to expire', () => {
    const store = new SampleStore(2, 2, 8, WIDTH);
    add(store, 0);
    add(store, 1);
    add(store, 2); // drops request 0's sample
    store.expire(4); // request 1's has expired (3 > 2), request 2's not (2)
    expect(trained(store)).toEqual({ rows: [[1, 1.5, 1.25]], labels: [0] });
    store.expire(5);
    expect(trained(store).labels).toEqual([0, 0]);
  });

  it('keeps the most recent labelled samples, overwriting the oldest', () => {
    const store = new SampleStore(1, 8, 2, WIDTH);
    expect(store.trainFeatures.length).toBe(2 * WIDTH);
    for (let r = 0; r < 3; r++) add(store, r);
    store.expire(10);
    expect([store.trainCount, store.labelled]).toEqual([2, 3]);
    // Request 2's sample overwrote request 0's in slot 0.
    expect(trained(store)).toEqual({ rows: [[2, 2.5, 2.25], [1, 1.5, 1.25]], labels: [0, 0] });
    const d = add(store, 20);
    store.reused(d, 20, 21);
    expect(trained(store)).toEqual({ rows: [[2, 2.5, 2.25], [20, 20.5, 20.25]], labels: [0, 1] });
  });

  it('the horizon may change between requests', () => {
    const store = new SampleStore(10, 8, 8, WIDTH);
    const a = add(store, 0);
    store.horizon = 2;
    store.reused(a, 0, 3);
    expect(store.labelled).toBe(0);
    store.expire(3);
    expect(trained(store).labels).toEqual([0]);
  });
});

/**
 * Replica paths the random runs of the replica group reached without checking them (found by mutation testing,
 * docs/mutation.md, "replica, session 14"): Belady's next use of a page hit at admission, page-granular
 * eviction under write_back, and the write debt an iteration with a merged load pays. Each test states exact
 * numbers.
 */
import { describe, expect, it } from 'vitest';
import { replicaOptions } from '../helpers/sim.js';
import { ROOT } from '../../src/cache/radix-cache.js';
import { computeNextUse } from '../../src/cache/next-use.js';
import { policyFactory } from '../../src/cache/policy-registry.js';
import { CostModel } from '../../src/sim/cost-model.js';
import { engineRules } from '../../src/sim/engine-rules.js';
import { EventQueue } from '../../src/sim/event-queue.js';
import { resolveHardware } from '../../src/sim/hardware.js';
import { Replica, type ReplicaOptions } from '../../src/sim/replica.js';
import type { Setup } from '../../src/sim/setups.js';
import { cpuOnlyPrompt, recordingCost, wholeBlockRequests } from '../helpers/replica-batches.js';

const BLOCK = 16;

function setupOf(policy: string, parts: Partial<Omit<Setup, 'name' | 'policy'>> = {}): Setup {
  return { name: policy, policy: policyFactory(policy), cpuTier: false, prefetch: false, statusAware: false, ...parts };
}

/** A replica on `hardware` with `options`, recording completions and GPU evictions. */
function harness(hardware: ReturnType<typeof resolveHardware>, options: Partial<ReplicaOptions> & Pick<ReplicaOptions, 'setup'>) {
  const events = new EventQueue();
  const done: string[] = [];
  const evicted: number[] = [];
  const replica = new Replica(
    0,
    events,
    { onFirstToken: () => {}, onComplete: (r) => done.push(r.request.id) },
    replicaOptions(hardware, { ...options, cacheEvents: { resident: () => {}, evicted: (page) => evicted.push(page) } }),
  );
  return { replica, events, done, evicted };
}

describe('Replica: Belady next uses', () => {
  const ideal = resolveHardware({ gpu: 'A10G', model: 'Llama-3.1-8B', engine: 'ideal' });

  it("a page hit at admission takes the next use of its own position in the request's prompt", () => {
    const request = wholeBlockRequests(BLOCK);
    const r = [
      request('r0', [1, 2]),
      request('r1', [1, 2]), // hits [1, 2]: block 2 (position 1) is next used by r5
      request('r2', [7]), // block 7 is next used by r4
      request('r3', [8]), // needs a slot: the leaf used last goes, 2's page (r5) before 7's (r4)
      request('r4', [7]),
      request('r5', [1, 2]),
    ];
    const nextUse = computeNextUse(r.map((x) => x.request));
    const h = harness(ideal, { setup: setupOf('belady'), gpuSlots: 4, nextUse });
    for (const x of r) {
      h.replica.enqueue(x);
      h.events.run();
    }
    expect(h.done).toEqual(['r0', 'r1', 'r2', 'r3', 'r4', 'r5']);
    const [p1, p2] = r[0]!.pages;
    expect(h.evicted[0]).toBe(p2); // not 7's page, which r4 then hits
    expect(r[4]!.hitTokens).toBe(BLOCK);
    expect(r[5]!.hitTokens).toBe(BLOCK); // [1] still cached, [2] recomputed
    expect(p1).toBe(1);
  });
});

describe('Replica: write_back with page-granular eviction', () => {
  const sglang = resolveHardware({ gpu: 'A10G', model: 'Llama-3.1-8B', engine: 'sglang-0.4' });

  it('evicts one page of a node, not the whole node, when one slot is needed', () => {
    // Five slots: a's three pages stay cached as one radix node; b needs three slots (two pages and its
    // output page), so one page goes: a's leaf, backed up to the CPU first (write_back).
    const request = wholeBlockRequests(BLOCK);
    const h = harness(sglang, {
      setup: setupOf('lru', { cpuTier: true }),
      gpuSlots: 5,
      cpuSlots: 16,
      cost: new CostModel(sglang),
      rules: engineRules(sglang, { writePolicy: 'write_back', evictGranularity: 'page' }),
    });
    const a = request('a', [1, 2, 3]);
    const b = request('b', [7, 8]);
    h.replica.enqueue(a);
    h.events.run();
    h.replica.enqueue(b);
    h.events.run();
    expect(h.done).toEqual(['a', 'b']);
    expect(h.evicted).toEqual([a.pages[2]]);
    const c = request('c', [1, 2, 3]);
    h.replica.enqueue(c);
    h.events.run();
    expect(c.hitTokens).toBe(2 * BLOCK);
  });
});

describe('Replica: write debt under a merged load (sglang-0.4)', () => {
  const sglang = resolveHardware({ gpu: 'A10G', model: 'Llama-3.1-8B', engine: 'sglang-0.4' });
  const model = new CostModel(sglang);

  /**
   * a (one page) runs alone (one running request at most); when its prefill ends it is written through
   * (write_through) or not (write_through_selective: no hit yet). r is admitted next, loading its CPU-only
   * pages 3 and 4 under [1, 2] as one merged load: its iteration pays a's write debt.
   */
  function run(writePolicy: 'write_through' | 'write_through_selective') {
    const request = wholeBlockRequests(BLOCK);
    const h = harness(sglang, {
      setup: setupOf('lru', { cpuTier: true }),
      gpuSlots: 16,
      cpuSlots: 32,
      maxRunning: 1,
      cost: model,
      rules: engineRules(sglang, { writePolicy }),
    });
    const cache = h.replica.cache;
    const p1 = cache.insertGpu(ROOT, 1, 0);
    const p2 = cache.insertGpu(p1, 2, 0);
    for (const page of [p1, p2]) {
      expect(cache.startWrite(page)).toBe(true);
      cache.finishWrite(page);
    }
    cpuOnlyPrompt(cache, [3, 4], p2);
    const a = request('a', [20]);
    const r = request('r', [1, 2, 3, 4, 5]);
    h.replica.enqueue(a);
    h.replica.enqueue(r);
    h.events.run();
    expect(h.done).toEqual(['a', 'r']);
    expect([r.hitTokens, r.loadedTokens, r.recomputedTokens]).toEqual([32, 32, 16]);
    expect(r.admitted).toBe(a.done);
    return r.firstToken - r.admitted;
  }

  it("adds the write-through's engine seconds to the iteration that overlaps the load", () => {
    const debt = engineRules(sglang).writeSeconds(model.pageBytes);
    expect(debt).toBeGreaterThan(1e-5);
    expect(run('write_through') - run('write_through_selective')).toBeCloseTo(debt, 12);
  });
});

describe('Replica: a merged load with no iteration to carry it (sglang-0.4)', () => {
  const sglang = resolveHardware({ gpu: 'A10G', model: 'Llama-3.1-8B', engine: 'sglang-0.4' });
  const model = new CostModel(sglang);

  it('goes out in the pass that built no iteration, while a write-through is in flight', () => {
    // Nine slots under write_through: [1, 2] (3 and 4 under it on the CPU only), then a's four pages, still
    // being written when r is admitted alone (a page being written cannot be evicted). r's load of 3 and 4
    // and its output page take the three free slots, so block 5 finds no room and the pass builds no
    // iteration: the merged load must go out on its own, at a's end, not wait for one.
    const events = new EventQueue();
    const done: string[] = [];
    const loads: { pages: number; start: number }[] = [];
    const replica = new Replica(
      0,
      events,
      { onFirstToken: () => {}, onComplete: (r) => done.push(r.request.id) },
      replicaOptions(sglang, {
        setup: setupOf('lru', { cpuTier: true }),
        gpuSlots: 9,
        cpuSlots: 32,
        maxRunning: 1,
        h2d: { ...sglang.h2d, observer: { issued: (bytes, start) => loads.push({ pages: bytes / model.pageBytes, start }), cancelled: () => {} } },
        cost: model,
        rules: engineRules(sglang, { writePolicy: 'write_through' }),
      }),
    );
    const cache = replica.cache;
    const p1 = cache.insertGpu(ROOT, 1, 0);
    const p2 = cache.insertGpu(p1, 2, 0);
    for (const page of [p1, p2]) {
      expect(cache.startWrite(page)).toBe(true);
      cache.finishWrite(page);
    }
    const [p3, p4] = cpuOnlyPrompt(cache, [3, 4], p2);
    const request = wholeBlockRequests(BLOCK);
    const a = request('a', [20, 21, 22, 23]);
    const r = request('r', [1, 2, 3, 4, 5]);
    replica.enqueue(a);
    replica.enqueue(r); // waits for a (one running request at most)
    events.run();
    expect(done).toEqual(['a', 'r']);
    expect(loads).toEqual([{ pages: 2, start: a.done }]);
    expect(r.admitted).toBe(a.done);
    expect([r.hitTokens, r.loadedTokens, r.recomputedTokens]).toEqual([32, 32, 16]);
    expect([...r.pages.subarray(0, 4)]).toEqual([p1, p2, p3, p4]);
    expect(cache.pinnedGpu).toBe(0);
    cache.checkInvariants();
  });
});

describe('Replica: an on-demand load-back that starts nothing', () => {
  const a10g = resolveHardware({ gpu: 'A10G', model: 'Llama-3.1-8B' });
  const model = new CostModel(a10g);

  it('leaves the request waiting as full: the requests behind it wait too, though one would fit', () => {
    // As replica-edges' two-part load-back: seven slots, [1, 2] (3 and 4 under it on the CPU only) and a's
    // four pages, still being written when r is admitted. The free slot takes 3. When 3 has landed, 4 finds no
    // room under it (3 is kept) and the load starts nothing; r's output page finds none either (r's prefix is
    // locked): r is full, and the pass ends. s ([1], cached) behind it would fit by evicting 3, but waits
    // for r: once a's writes land, 4 is loaded, r runs, then s.
    const events = new EventQueue();
    const done: string[] = [];
    const loads: number[] = [];
    const replica = new Replica(
      0,
      events,
      { onFirstToken: () => {}, onComplete: (r) => done.push(r.request.id) },
      replicaOptions(a10g, {
        setup: setupOf('lru', { cpuTier: true }),
        gpuSlots: 7,
        cpuSlots: 32,
        h2d: { ...a10g.h2d, observer: { issued: (bytes) => loads.push(bytes / model.pageBytes), cancelled: () => {} } },
        cost: recordingCost(model, [], () => true),
      }),
    );
    const cache = replica.cache;
    const p1 = cache.insertGpu(ROOT, 1, 0);
    const p2 = cache.insertGpu(p1, 2, 0);
    for (const page of [p1, p2]) {
      expect(cache.startWrite(page)).toBe(true);
      cache.finishWrite(page);
    }
    const [p3, p4] = cpuOnlyPrompt(cache, [3, 4], p2);
    const request = wholeBlockRequests(BLOCK);
    const a = request('a', [20, 21, 22, 23]);
    const r = request('r', [1, 2, 3, 4, 5]);
    const s = request('s', [1]);
    replica.enqueue(a);
    replica.enqueue(r);
    replica.enqueue(s);
    events.run();
    expect(done).toEqual(['a', 'r', 's']);
    expect(loads).toEqual([1, 1]);
    expect([r.hitTokens, r.loadedTokens, r.recomputedTokens]).toEqual([32, 32, 16]);
    expect([...r.pages.subarray(0, 4)]).toEqual([p1, p2, p3, p4]);
    expect(s.admitted).toBe(r.admitted);
    expect([s.hitTokens, s.recomputedTokens]).toEqual([16, 0]);
    expect(cache.pinnedGpu).toBe(0);
    cache.checkInvariants();
  });
});

describe('Replica: repeated decode ends while requests wait (lpm)', () => {
  const a10g = resolveHardware({ gpu: 'A10G', model: 'Llama-3.1-8B' });

  it("admits a waiting request at the end whose page reservation reorders the queue", () => {
    // Six slots: four one-page prompts cached (p1 oldest) and d decoding (its page and its first output
    // page). w2 ([9], no match) and w1 ([1, 101, 102], matches p1's page) arrive while d decodes: lpm puts
    // w1 first, which does not fit (four pages needed, two free beside d's), and the pass ends before w2,
    // which would. At d's 16th token its next output page evicts p1's page (least recently used): w1 and w2
    // now tie at no match, w2 (earlier) goes first, fits and runs, long before d ends.
    const events = new EventQueue();
    const done: string[] = [];
    const request = wholeBlockRequests(BLOCK);
    const w2 = request('w2', [9]);
    const w1 = request('w1', [1, 101, 102]);
    const replica = new Replica(
      0,
      events,
      {
        onFirstToken: (r) => {
          if (r.request.id !== 'd') return;
          replica.enqueue(w2);
          replica.enqueue(w1);
        },
        onComplete: (r) => done.push(r.request.id),
      },
      replicaOptions(a10g, { setup: setupOf('lru'), gpuSlots: 6, schedule: 'lpm' }),
    );
    for (const block of [1, 2, 3, 4]) {
      replica.enqueue(request(`p${block}`, [block]));
      events.run();
    }
    const d = request('d', [50], undefined, { output: 40 });
    replica.enqueue(d);
    events.run();
    expect(done).toEqual(['p1', 'p2', 'p3', 'p4', 'w2', 'd', 'w1']);
    expect(w2.done).toBeLessThan(d.done);
    expect(d.generated).toBe(40);
    expect([w1.hitTokens, w2.hitTokens]).toEqual([0, 0]);
  });
});

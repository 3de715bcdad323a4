import { describe, expect, it } from 'vitest';
import { LruPolicy, type PolicyFactory } from '../../src/cache/policy.js';
import { createPolicy, isPolicyName, policyFactory, policyRegistry, PolicyRegistry } from '../../src/cache/policy-registry.js';
import type { ReusePolicy } from '../../src/cache/reuse/reuse-policy.js';
import { replayTrace } from '../../src/replay/replay.js';

describe('PolicyRegistry', () => {
  it('lists names in registration order, built-ins apart, with their entries', () => {
    const registry = new PolicyRegistry();
    const lru: PolicyFactory = () => new LruPolicy();
    const mine: PolicyFactory = () => new LruPolicy();
    registry.register('lru', lru, 'least recently used', true);
    registry.register('mine', mine);
    expect(registry.names()).toEqual(['lru', 'mine']);
    expect(registry.builtInNames()).toEqual(['lru']);
    expect(registry.has('mine')).toBe(true);
    expect(registry.has('other')).toBe(false);
    expect(registry.get('lru')).toEqual({ name: 'lru', create: lru, description: 'least recently used', builtIn: true });
    expect(registry.get('mine')).toEqual({ name: 'mine', create: mine, description: '', builtIn: false });
    expect(registry.get('other')).toBeUndefined();
  });

  it('refuses to replace a built-in, or a user policy with another factory; the same factory again is fine', () => {
    const registry = new PolicyRegistry();
    const lru: PolicyFactory = () => new LruPolicy();
    const mine: PolicyFactory = () => new LruPolicy();
    registry.register('lru', lru, 'least recently used', true);
    registry.register('mine', mine, 'first');
    expect(() => registry.register('lru', lru)).toThrow(new Error('a policy named "lru" is already registered (built-in)'));
    expect(() => registry.register('mine', () => new LruPolicy())).toThrow(new Error('a policy named "mine" is already registered'));
    registry.register('mine', mine, 'second');
    expect(registry.get('mine')?.description).toBe('second');
    expect(registry.names()).toEqual(['lru', 'mine']);
  });
});

describe('a built-in that loads on first use', () => {
  it('is listed and found before it loads, makes policies only after, and loads once', async () => {
    const registry = new PolicyRegistry();
    let loads = 0;
    registry.registerLazy('later', 'loads when named', async () => {
      loads++;
      return () => new LruPolicy();
    });
    expect(registry.builtInNames()).toEqual(['later']);
    expect(registry.get('later')?.description).toBe('loads when named');
    const { create } = registry.get('later')!;
    expect(() => create()).toThrow(new Error('policy "later" is not loaded: await policyRegistry.load("later") first'));
    const [first, second] = await Promise.all([registry.load('later'), registry.load('later')]);
    expect(loads).toBe(1);
    expect(first).toBe(second);
    expect(first!.create).toBe(create); // the factory handed out before loading works now too
    expect(create().name).toBe('lru');
    await registry.loadAll();
    expect(loads).toBe(1);
    expect(await registry.load('other')).toBeUndefined();
    expect(() => registry.register('later', () => new LruPolicy())).toThrow(new Error('a policy named "later" is already registered (built-in)'));
  });
  it('loadAll loads every pending built-in once, so its factory works without a load by name', async () => {
    const registry = new PolicyRegistry();
    const loaded: string[] = [];
    for (const name of ['a', 'b']) {
      registry.registerLazy(name, name, async () => {
        loaded.push(name);
        return () => new LruPolicy();
      });
    }
    await registry.loadAll();
    expect(loaded).toEqual(['a', 'b']);
    expect(registry.get('a')!.create().name).toBe('lru');
    expect(registry.get('b')!.create().name).toBe('lru');
    await registry.loadAll();
    expect(loaded).toEqual(['a', 'b']);
  });
});

describe('the process-wide registry', () => {
  it('holds the six built-ins, each making a policy of its name', () => {
    const builtIns = ['lru', 'lfu', 'belady', 'ste', 'reuse', 'ste-learned'];
    expect(policyRegistry.builtInNames()).toEqual(builtIns);
    for (const name of builtIns) {
      expect(isPolicyName(name)).toBe(true);
      expect(createPolicy(name).name).toBe(name);
      expect(policyFactory(name)({ gpuSlots: 64 }).name).toBe(name);
    }
    expect(isPolicyName('fifo')).toBe(false);
  });

  it('hands reuse the cache size, so a bounded cache duels an LRU shadow (ties go to LRU)', () => {
    let made: ReusePolicy | undefined;
    const factory: PolicyFactory = (context) => (made = policyFactory('reuse')(context) as ReusePolicy);
    const requests = [1, 2, 1, 3].map((first, i) => ({ id: `r${i}`, blocks: [first, 10 + i], blockSize: 4, inputLength: 8, outputLength: 1 }));
    replayTrace(requests, { capacityTokens: 4 * 4, blockSize: 4, policy: factory });
    expect(made!.decisions).toEqual({ lru: 4, learned: 0 });
    replayTrace(requests, { capacityTokens: null, blockSize: 4, policy: factory });
    expect(made!.decisions).toEqual({ lru: 0, learned: 4 });
  });

  it('names the registered policies when asked for an unknown one', () => {
    expect(() => policyFactory('fifo')).toThrow(/^unknown policy "fifo" \(registered: lru, lfu, belady, ste, reuse, ste-learned/);
    expect(() => createPolicy('fifo')).toThrow(/^unknown policy "fifo"/);
  });
});

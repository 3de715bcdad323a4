/** The one cache-only admission loop (replay, gateway shadow trees, policy duel shadows). */
import { describe, expect, it } from 'vitest';
import { LruPolicy, type PolicyPrompt, type RequestAccess, type RequestInfo } from '../../src/cache/policy.js';
import { PromptAdmission } from '../../src/cache/prompt-admission.js';
import { RadixCache } from '../../src/cache/radix-cache.js';

function request(blocks: number[]): RequestInfo & PolicyPrompt {
  return { id: blocks.join('-'), blocks, blockSize: 4, inputLength: blocks.length * 4 - 1 };
}

describe('PromptAdmission', () => {
  it('matches, inserts the rest locked, tells the hooks in order, and stops where nothing can be evicted', () => {
    const calls: string[] = [];
    const hooks = {
      beforeRequest: (r: RequestInfo, tick: number) => calls.push(`before ${Array.from(r.blocks).join(',')} @${tick}`),
      notePrompt: (_p: PolicyPrompt, key: string | undefined, _pages: ArrayLike<number>, from: number, to: number) => calls.push(`note ${key} ${from}-${to}`),
      afterRequest: (a: RequestAccess) => calls.push(`after matched ${a.matched} held ${a.held} out ${a.outputLength}`),
    };
    const inserted: number[] = [];
    const cache = new RadixCache({ gpuSlots: 4, policy: new LruPolicy() });
    const admission = new PromptAdmission(cache, hooks, (block) => inserted.push(block));

    expect(admission.admit(request([1, 2, 3]), 1, request([1, 2, 3]), 'agent-a')).toBe(0);
    expect([admission.matched, admission.held, cache.pinnedGpu]).toEqual([0, 3, 3]);
    admission.release();
    expect(cache.pinnedGpu).toBe(0);

    // [1, 2] is cached; 5 takes the last free slot; 6 evicts 3 (the only unlocked leaf); 7 finds every page locked.
    expect(admission.admit(request([1, 2, 5, 6, 7]), 2)).toBe(2);
    expect([admission.matched, admission.held, cache.pinnedGpu, cache.gpuUsed]).toEqual([2, 4, 4, 4]);
    expect(Array.from(admission.path.subarray(0, 2))).toEqual([cache.childOf(0, 1), cache.childOf(cache.childOf(0, 1), 2)]);
    expect(cache.lastAccess(admission.path[0]!)).toBe(2);
    admission.release();

    expect(inserted).toEqual([1, 2, 3, 5, 6]);
    expect(calls).toEqual([
      'before 1,2,3 @1',
      'note agent-a 0-3',
      'after matched 0 held 3 out 0',
      'before 1,2,5,6,7 @2', // no prompt given: notePrompt is not told
      'after matched 2 held 4 out 0',
    ]);
  });

  it('gives pages the next uses it is handed, from `base`', () => {
    const cache = new RadixCache({ gpuSlots: 8, policy: new LruPolicy() });
    const admission = new PromptAdmission(cache);
    admission.admit(request([1, 2]), 0, undefined, undefined, [9, 9, 30, 40], 2);
    expect([cache.nextUse(admission.path[0]!), cache.nextUse(admission.path[1]!)]).toEqual([30, 40]);
    admission.release();
    admission.admit(request([1, 2, 3]), 1);
    expect([0, 1, 2].map((i) => cache.nextUse(admission.path[i]!))).toEqual([Infinity, Infinity, Infinity]);
    admission.release();
    // A prompt given to an admission without hooks: nobody to tell, and nothing fails.
    expect(admission.admit(request([1, 2, 3]), 2, request([1, 2, 3]), 'agent-a')).toBe(3);
  });
});

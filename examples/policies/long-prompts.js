/**
 * Example eviction policy: keep the pages of long prompts.
 *
 * A page's priority is the length (in tokens) of the longest prompt that has used it, so pages that only
 * short prompts use are evicted first and pages under long prompts (the expensive prefills) stay; equal
 * priorities fall back to least recently used, as for every kvflow policy.
 *
 *   kvflow replay   --trace t.jsonl --policy lru,./examples/policies/long-prompts.js
 *   kvflow simulate --workload workloads/sequential-10.json --policy ./examples/policies/long-prompts.js
 *
 * The default export is a class; kvflow constructs one object per cache (per replay run, simulated
 * replica, engine or gateway upstream). It uses two optional members of EvictionPolicy: `notePrompt`
 * (told which pages a request's prompt uses) and `forget` (a page left the cache, its id may be reused).
 * The interface is documented in src/cache/policy.ts and docs/policies.md.
 */

/** @implements {import('kvflow').EvictionPolicy} */
export default class LongPromptsPolicy {
  name = 'long-prompts';
  /** @type {import('kvflow').PriorityOwner | undefined} */
  #owner;
  /** Longest prompt (tokens) seen per page id. */
  #longest = new Map();

  /** @param {import('kvflow').PriorityOwner} owner */
  bind(owner) {
    this.#owner = owner;
  }

  /** @param {number} page */
  priority(page) {
    return this.#longest.get(page) ?? 0;
  }

  /**
   * @param {import('kvflow').PolicyPrompt} prompt
   * @param {string | undefined} _agentKey
   * @param {ArrayLike<number>} pages
   * @param {number} from
   * @param {number} to
   */
  notePrompt(prompt, _agentKey, pages, from, to) {
    for (let i = from; i < to; i++) {
      const page = pages[i];
      if ((this.#longest.get(page) ?? 0) < prompt.inputLength) {
        this.#longest.set(page, prompt.inputLength);
        // The page is locked by this request now; the cache re-reads its priority when it is unlocked,
        // but a policy whose priorities change must say so.
        this.#owner?.reprioritize(page);
      }
    }
  }

  /** @param {number} page */
  forget(page) {
    this.#longest.delete(page);
  }
}

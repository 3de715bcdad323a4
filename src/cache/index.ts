/** `kvflow/cache`: the paged radix-tree KV cache, its tiers, the EvictionPolicy interface, the built-in policies and
 * the registry user policies join. Loads no HTTP server, plotting or tensor library. This file only re-exports. */
export { RadixCache, PageState, ROOT, type RadixCacheOptions } from './radix-cache.js';
export {
  LruPolicy,
  LfuPolicy,
  BeladyPolicy,
  type EvictionPolicy,
  type PolicyFactory,
  type PolicyPrompt,
  type SteChanges,
  type PageStats,
  type PriorityOwner,
} from './policy.js';
export { StePolicy } from './ste-policy.js';
export { PolicyRegistry, policyRegistry, createPolicy, policyFactory, isPolicyName, type PolicyEntry } from './policy-registry.js';
export { computeNextUse, NEVER, type NextUseIndex } from './next-use.js';
export { LearnedStePolicy } from './learned-ste/learned-ste-policy.js';
export { ReusePolicy } from './reuse/reuse-policy.js';

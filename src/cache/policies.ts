import { POLICY_NAMES, type PolicyName } from '../types.js';
import { BeladyPolicy, LfuPolicy, LruPolicy, type EvictionPolicy } from './policy.js';
import { StePolicy } from './ste-policy.js';
import { ReusePolicy } from './reuse/reuse-policy.js';
import { cpuTfSync } from '../tensor/backend.js';

/** A fresh policy object by name. */
export function createPolicy(name: PolicyName): EvictionPolicy {
  switch (name) {
    case 'lru':
      return new LruPolicy();
    case 'lfu':
      return new LfuPolicy();
    case 'belady':
      return new BeladyPolicy();
    case 'ste':
      return new StePolicy();
    case 'reuse':
      // The CPU backend: its kernels are single-threaded JavaScript, so a seed gives the same model bit for bit.
      return new ReusePolicy(cpuTfSync);
  }
}

export function isPolicyName(name: string): name is PolicyName {
  return (POLICY_NAMES as readonly string[]).includes(name);
}

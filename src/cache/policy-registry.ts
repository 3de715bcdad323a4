/**
 * The policy registry (policy-registry-base.ts) with every built-in loaded, so that policies can be made
 * synchronously by name: what library callers, the simulator's setups and the gateway import.
 */
import type { EvictionPolicy, PolicyFactory } from './policy.js';
import { policyRegistry } from './policy-registry-base.js';

export { PolicyRegistry, policyRegistry, type PolicyEntry } from './policy-registry-base.js';

await policyRegistry.loadAll();

/** A fresh policy object by registered name. */
export function createPolicy(name: string): EvictionPolicy {
  return policyFactory(name)();
}

/** The factory of a registered name (library callers naming built-ins; the CLI goes through config/policy-spec.ts). */
export function policyFactory(name: string): PolicyFactory {
  const entry = policyRegistry.get(name);
  if (!entry) throw new Error(`unknown policy "${name}" (registered: ${policyRegistry.names().join(', ')})`);
  return entry.create;
}

export function isPolicyName(name: string): boolean {
  return policyRegistry.has(name);
}

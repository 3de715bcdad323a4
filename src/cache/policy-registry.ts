import { BeladyPolicy, LfuPolicy, LruPolicy, type EvictionPolicy, type PolicyFactory } from './policy.js';
import { StePolicy } from './ste-policy.js';
import { ReusePolicy } from './reuse/reuse-policy.js';
import { LearnedStePolicy } from './learned-ste/learned-ste-policy.js';


/** One registered policy: its factory and what a listing says about it. */
export interface PolicyEntry {
  readonly name: string;
  readonly create: PolicyFactory;
  readonly description: string;
  /** Built-ins cannot be replaced. */
  readonly builtIn: boolean;
}

/**
 * Policies by name. Names are resolved here once, at the command-line and configuration boundary; drivers
 * take the factory. User policies join with `register` (config/policy-spec.ts does it for policy files).
 */
export class PolicyRegistry {
  readonly #entries = new Map<string, PolicyEntry>();

  /** Adds a policy; replacing a built-in, or a user policy with a different factory, throws. */
  register(name: string, create: PolicyFactory, description = '', builtIn = false): void {
    const existing = this.#entries.get(name);
    if (existing && (existing.builtIn || existing.create !== create)) {
      throw new Error(`a policy named "${name}" is already registered${existing.builtIn ? ' (built-in)' : ''}`);
    }
    this.#entries.set(name, { name, create, description, builtIn });
  }

  get(name: string): PolicyEntry | undefined {
    return this.#entries.get(name);
  }

  has(name: string): boolean {
    return this.#entries.has(name);
  }

  /** Registered names, built-ins first, in registration order. */
  names(): string[] {
    return [...this.#entries.keys()];
  }

  /** Built-in names only (the choices `--help` lists). */
  builtInNames(): string[] {
    return [...this.#entries.values()].filter((entry) => entry.builtIn).map((entry) => entry.name);
  }
}

/** The process-wide registry, holding the built-in policies. */
export const policyRegistry = new PolicyRegistry();
policyRegistry.register('lru', () => new LruPolicy(), 'least recently used', true);
policyRegistry.register('lfu', () => new LfuPolicy(), 'least frequently used, then LRU', true);
policyRegistry.register('belady', () => new BeladyPolicy(), "Belady's offline optimum (needs the future)", true);
policyRegistry.register('ste', () => new StePolicy(), "KVFlow's steps-to-execution order, then LRU", true);
policyRegistry.register(
  'reuse',
  (context) => new ReusePolicy({}, context?.gpuSlots ?? Infinity, context?.shared),
  'learned reuse order (an online logistic model of whether a conversation continues) while it beats an LRU shadow (docs/results.md)',
  true,
);
policyRegistry.register(
  'ste-learned',
  (context) => new LearnedStePolicy(context?.gpuSlots ?? Infinity),
  'forecast next use from a step graph learned online while it beats an LRU shadow (docs/learned-policy.md)',
  true,
);

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

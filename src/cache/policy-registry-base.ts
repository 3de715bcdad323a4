/**
 * The policy registry itself: names to factories, the process-wide instance and its built-ins. The learned
 * built-ins (`reuse`, `ste-learned`) pull in a dozen modules (their learners, the policy duel, the graph
 * learner), so their modules load on first use: `load(name)` before the entry's factory is called. The
 * command line resolves names through `load` (config/policy-spec.ts), so `kvflow replay --policy lru`
 * never loads them; importing policy-registry.ts loads every built-in, for callers that create policies
 * synchronously by name.
 */
import { BeladyPolicy, LfuPolicy, LruPolicy, type PolicyFactory } from './policy.js';
import { StePolicy } from './ste-policy.js';

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
  /** Built-ins whose module has not loaded yet: what loads it. */
  readonly #pending = new Map<string, () => Promise<void>>();

  /** Adds a policy; replacing a built-in, or a user policy with a different factory, throws. */
  register(name: string, create: PolicyFactory, description = '', builtIn = false): void {
    const existing = this.#entries.get(name);
    if (existing && (existing.builtIn || existing.create !== create)) {
      throw new Error(`a policy named "${name}" is already registered${existing.builtIn ? ' (built-in)' : ''}`);
    }
    this.#entries.set(name, { name, create, description, builtIn });
  }

  /**
   * Adds a built-in whose factory comes from `load`, run once by `load(name)`. Listed and found like any
   * other entry; its factory throws until then.
   */
  registerLazy(name: string, description: string, load: () => Promise<PolicyFactory>): void {
    let loaded: PolicyFactory | undefined;
    const create: PolicyFactory = (context) => {
      if (loaded === undefined) throw new Error(`policy "${name}" is not loaded: await policyRegistry.load("${name}") first`);
      return loaded(context);
    };
    this.register(name, create, description, true);
    let loading: Promise<void> | undefined;
    this.#pending.set(name, () =>
      (loading ??= load().then((factory) => {
        loaded = factory;
        this.#pending.delete(name);
      })),
    );
  }

  /** The entry of `name` with its module loaded (undefined for an unknown name). */
  async load(name: string): Promise<PolicyEntry | undefined> {
    await this.#pending.get(name)?.();
    return this.#entries.get(name);
  }

  /** Loads every built-in that loads on first use. */
  async loadAll(): Promise<void> {
    await Promise.all([...this.#pending.values()].map((load) => load()));
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
policyRegistry.registerLazy(
  'reuse',
  'learned reuse order (an online logistic model of whether a conversation continues) while it beats an LRU shadow (docs/results.md)',
  async () => {
    const { ReusePolicy } = await import('./reuse/reuse-policy.js');
    return (context) => new ReusePolicy({}, context?.gpuSlots ?? Infinity, context?.shared);
  },
);
policyRegistry.registerLazy(
  'ste-learned',
  'forecast next use from a step graph learned online while it beats an LRU shadow (docs/learned-policy.md)',
  async () => {
    const { LearnedStePolicy } = await import('./learned-ste/learned-ste-policy.js');
    return (context) => new LearnedStePolicy(context?.gpuSlots ?? Infinity);
  },
);

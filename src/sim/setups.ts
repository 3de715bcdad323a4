import type { PolicyFactory } from '../cache/policy.js';
import { policyFactory } from '../cache/policy-registry.js';
import type { EngineName } from './engine-profile.js';

/**
 * A serving configuration compared by `kvflow simulate`: an eviction policy plus the tiers and mechanisms
 * around it. The named setups below are presets of it; `--setup name=...,policy=...` builds others
 * (config/setup-spec.ts), and every driver treats them alike.
 */
export interface Setup {
  /** Names the setup in results, reports and speedups. */
  name: string;
  /** GPU (and CPU) eviction order: a fresh policy per replica. */
  policy: PolicyFactory;
  /** HiCache-style CPU tier: write-through backup, CPU-only pages, load-back. */
  cpuTier: boolean;
  /** Loads the fixed prompts of agents due soon (STE <= load-ahead) in the background. */
  prefetch: boolean;
  /**
   * Skips requests whose prefix the prefetcher is still loading, in favour of ready ones. Without it the
   * engine waits for that prefetch. (On-demand load-backs always hold the engine, as in HiCache.)
   */
  statusAware: boolean;
  /**
   * The engine profile this setup runs on (its scheduler, load path and pool size); absent: the run's
   * (`--engine`). Lets one run compare, say, HiCache on SGLang v0.4 with kvflow on the idealised engine.
   */
  engine?: EngineName;
}

/** A setup's parts with the policy by registered name, as presets and setup definitions write them. */
export type SetupParts = Omit<Setup, 'name' | 'policy' | 'engine'> & { policy: string };

export const SETUP_NAMES = ['sglang', 'hicache', 'kvflow-evict', 'kvflow', 'lfu', 'belady', 'reuse', 'kvflow-learned'] as const;
export type SetupName = (typeof SETUP_NAMES)[number];

export const SETUP_PRESETS: Readonly<Record<SetupName, Readonly<SetupParts>>> = {
  /** SGLang's radix cache: LRU, GPU only. */
  sglang: { policy: 'lru', cpuTier: false, prefetch: false, statusAware: false },
  /** SGLang HiCache: LRU with a CPU tier, load on demand blocking that request. */
  hicache: { policy: 'lru', cpuTier: true, prefetch: false, statusAware: false },
  /** KVFlow's workflow-aware eviction alone. */
  'kvflow-evict': { policy: 'ste', cpuTier: true, prefetch: false, statusAware: false },
  /** KVFlow: STE eviction, CPU tier, overlapped prefetch, status-aware scheduling. */
  kvflow: { policy: 'ste', cpuTier: true, prefetch: true, statusAware: true },
  /** Least frequently used, GPU only. */
  lfu: { policy: 'lfu', cpuTier: false, prefetch: false, statusAware: false },
  /** Belady's offline oracle (next use in request order), GPU only. */
  belady: { policy: 'belady', cpuTier: false, prefetch: false, statusAware: false },
  /** The learned reuse predictor (docs/results.md), GPU only: compare with sglang. */
  reuse: { policy: 'reuse', cpuTier: false, prefetch: false, statusAware: false },
  /**
   * `ste-learned` eviction (docs/learned-policy.md) with HiCache's CPU tier. No prefetch: the prefetcher
   * displaces pages ranked below an agent's STE, and ste-learned ranks by forecast ticks, not STE.
   */
  'kvflow-learned': { policy: 'ste-learned', cpuTier: true, prefetch: false, statusAware: false },
};

export function isSetupName(name: string): name is SetupName {
  return (SETUP_NAMES as readonly string[]).includes(name);
}

/** A preset as a setup. */
export function setupByName(name: SetupName): Setup {
  const { policy, ...parts } = SETUP_PRESETS[name];
  return { name, policy: policyFactory(policy), ...parts };
}

/** A GPU-only setup named after its policy, as the `lfu` and `belady` presets are (`simulate --policy`). */
export function policySetup(name: string, policy: PolicyFactory): Setup {
  return { name, policy, cpuTier: false, prefetch: false, statusAware: false };
}

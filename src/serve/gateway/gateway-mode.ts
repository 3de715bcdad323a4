import type { PolicyFactory } from '../../cache/policy.js';
import { createPolicy } from '../../cache/policy-registry.js';

/**
 * What the gateway does with workflow knowledge, as a small strategy object: the eviction policy its
 * shadow trees use by default (and so which upstream it expects to still hold a prompt), and whether it
 * pushes STE to upstreams. `--policy` replaces the shadow trees' policy and keeps the rest.
 */
export interface GatewayMode {
  readonly name: GatewayModeName;
  readonly shadowPolicy: PolicyFactory;
  readonly forwardsSte: boolean;
}

export const GATEWAY_MODE_NAMES = ['lru', 'kvflow'] as const;
export type GatewayModeName = (typeof GATEWAY_MODE_NAMES)[number];

const MODES: Record<GatewayModeName, GatewayMode> = {
  /** A plain cache-aware router: shadow trees by LRU, no STE sent (engines evict by LRU). */
  lru: { name: 'lru', shadowPolicy: () => createPolicy('lru'), forwardsSte: false },
  /** KVFlow: shadow trees evict by STE like the engines will, and STE is pushed to kvflow upstreams. */
  kvflow: { name: 'kvflow', shadowPolicy: () => createPolicy('ste'), forwardsSte: true },
};

export function gatewayMode(name: GatewayModeName): GatewayMode {
  return MODES[name];
}

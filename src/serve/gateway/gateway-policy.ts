/**
 * What the gateway does with workflow knowledge, as a small strategy object: how its shadow trees evict
 * (and so which upstream it expects to still hold a prompt), and whether it pushes STE to upstreams.
 */
export interface GatewayPolicy {
  readonly name: GatewayPolicyName;
  readonly shadowEviction: 'lru' | 'ste';
  readonly forwardsSte: boolean;
}

export const GATEWAY_POLICY_NAMES = ['lru', 'kvflow'] as const;
export type GatewayPolicyName = (typeof GATEWAY_POLICY_NAMES)[number];

const POLICIES: Record<GatewayPolicyName, GatewayPolicy> = {
  /** A plain cache-aware router: shadow trees by LRU, no STE sent (engines evict by LRU). */
  lru: { name: 'lru', shadowEviction: 'lru', forwardsSte: false },
  /** KVFlow: shadow trees evict by STE like the engines will, and STE is pushed to kvflow upstreams. */
  kvflow: { name: 'kvflow', shadowEviction: 'ste', forwardsSte: true },
};

export function gatewayPolicy(name: GatewayPolicyName): GatewayPolicy {
  return POLICIES[name];
}

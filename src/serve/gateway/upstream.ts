/** One upstream engine as the gateway sees it: where it is, what it speaks, its load and its shadow cache. */
import { Pool } from 'undici';
import type { RouteCandidate } from '../../sim/cache-aware-routing.js';
import { ShadowCache, type ShadowCacheOptions, type ShadowLease } from './shadow-cache.js';
import type { KvBlockIndex } from '../kv-events/kv-block-index.js';

/**
 * - `kvflow`: a `kvflow engine`; hints go in `agent_hints`, STE is pushed to `/v1/update`.
 * - `kvflow-sglang`: the KVFlow SGLang fork (PanZaifeng/KVFlow); every request carries a top-level
 *   `agent_id` (the agent's integer id, `'-1'` without one) and STE goes to `/v1/update` under the same ids.
 * - `sglang-hints`: SGLang with agent hints (sgl-project/sglang PR #24993); the body carries `agent_hints`
 *   filled from the workflow the gateway tracks; no STE push (that SGLang has no `/v1/update`).
 * - `openai`: any OpenAI-compatible server (vLLM, SGLang, a hosted API); the body is passed through
 *   (gateway-only fields removed) and no STE is sent.
 */
export const UPSTREAM_KINDS = ['kvflow', 'kvflow-sglang', 'sglang-hints', 'openai'] as const;
export type UpstreamKind = (typeof UPSTREAM_KINDS)[number];

export interface UpstreamTimeouts {
  /** Milliseconds to establish a connection. */
  connectMs: number;
  /** Milliseconds to the response headers (a non-streaming completion sends them at the end). */
  headersMs: number;
  /** Milliseconds of silence allowed between body chunks. */
  bodyMs: number;
}

export interface UpstreamOptions {
  index: number;
  url: string;
  kind: UpstreamKind;
  timeouts: UpstreamTimeouts;
  /** Most connections to this upstream. */
  connections: number;
  shadow: ShadowCacheOptions;
  /** A new policy object for `resetShadow` (default: the first one again). */
  newShadowPolicy?: () => ShadowCacheOptions['policy'];
  /** The upstream's own API key, sent as `Authorization: Bearer` instead of the client's. */
  apiKey?: string | undefined;
}

export class Upstream implements RouteCandidate {
  readonly index: number;
  /** Normalized: no trailing slash. */
  readonly url: string;
  readonly kind: UpstreamKind;
  /** Path prefix of the URL (`http://host/openai` forwards `/v1/...` to `/openai/v1/...`). */
  readonly basePath: string;
  readonly pool: Pool;
  /** Replaced (empty) by `resetShadow`. */
  shadow: ShadowCache;
  readonly #shadowOptions: ShadowCacheOptions;
  readonly #shadowPolicy: () => ShadowCacheOptions['policy'];
  /** Requests in flight through this gateway. */
  load = 0;
  /** Wall-clock ms until which a connect failure keeps it out of routing. */
  downUntil = 0;
  /** Model ids it serves, once discovered (undefined: unknown, so any). */
  models: Set<string> | undefined;
  /** Whether the last active health check was answered (true until a probe says otherwise). */
  healthy = true;
  /** Bearer token the gateway sends it (its `--api-key`), if any. */
  readonly apiKey: string | undefined;
  /** Its exact block index, when it publishes KV events: routing reads it instead of the shadow tree. */
  kvIndex: KvBlockIndex | undefined;

  constructor(options: UpstreamOptions) {
    const parsed = new URL(options.url);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new RangeError(`${options.url}: only http and https upstreams`);
    this.index = options.index;
    this.kind = options.kind;
    this.apiKey = options.apiKey;
    this.basePath = parsed.pathname.replace(/\/+$/, '');
    this.url = `${parsed.origin}${this.basePath}`;
    this.pool = new Pool(parsed.origin, {
      connections: options.connections,
      connect: { timeout: options.timeouts.connectMs },
      headersTimeout: options.timeouts.headersMs,
      bodyTimeout: options.timeouts.bodyMs,
      keepAliveTimeout: 30_000,
    });
    this.#shadowOptions = options.shadow;
    this.#shadowPolicy = options.newShadowPolicy ?? (() => options.shadow.policy);
    this.shadow = new ShadowCache(options.shadow);
  }

  /** An empty shadow tree with a fresh policy object (a replica rebuilding its state from a shared store). */
  resetShadow(): void {
    this.shadow = new ShadowCache({ ...this.#shadowOptions, policy: this.#shadowPolicy() });
  }

  /** Whether STE snapshots are pushed to it. */
  get receivesSte(): boolean {
    return this.kind === 'kvflow' || this.kind === 'kvflow-sglang';
  }

  get cachedPages(): number {
    return this.kvIndex ? this.kvIndex.size : this.shadow.pages;
  }

  /** Leading pages of `blocks` it holds: exactly, from its KV events, else as its shadow tree estimates. */
  match(blocks: readonly number[]): number {
    return this.kvIndex ? this.kvIndex.match(blocks) : this.shadow.match(blocks);
  }

  /** Records a prompt routed here in the shadow tree (nothing to record when KV events say what it holds). */
  admit(blocks: readonly number[], fixedBlocks: number, agentKey: string | undefined): ShadowLease {
    return this.kvIndex ? NO_LEASE : this.shadow.admit(blocks, fixedBlocks, agentKey);
  }

  isUp(nowMs: number): boolean {
    return this.healthy && nowMs >= this.downUntil;
  }

  serves(model: string): boolean {
    return this.models === undefined || this.models.has(model);
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}

const NO_LEASE: ShadowLease = { release() {} };

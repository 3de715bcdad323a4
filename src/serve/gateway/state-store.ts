/**
 * Where the gateway's state lives. A store owns one `GatewayState` and is the only way requests change
 * it: `LocalStateStore` applies every change at once in this process (a single gateway, the default);
 * `RedisStateStore` (redis-state-store.ts) orders changes through Redis so that every replica applies
 * the same ones in the same order. The gateway reads routing inputs from `state` directly.
 */
import type { WorkflowSpec } from '../../workload/spec.js';
import { GatewayState, type BeginOp, type BeginResult, type GatewayStateOptions } from './gateway-state.js';
import type { ShadowLease } from './shadow-cache.js';
import type { Registration } from './workflow-registry.js';

/** Who pushes STE upstream: told of every change this replica must push, and when to push whole tables. */
export interface SteSink {
  publish(changes: ReadonlyMap<string, number | undefined>): void;
  /** Push full tables: the upstreams may hold another replica's view, or a state since replaced. */
  resync(): void;
}

export type BeginInput = Omit<BeginOp, 'kind' | 'id' | 'replay'>;

export interface GatewayStateStore {
  /** The state requests read (a replicated store may swap it for a resynchronised one). */
  readonly state: GatewayState;
  /** A request starts; resolves once every earlier change is applied here, so routing sees them. */
  begin(input: BeginInput): BeginResult & { id: string } | Promise<BeginResult & { id: string }>;
  /** Locks the request's prompt into `upstream`'s shadow tree until the lease is released. */
  admit(id: string, upstream: number): ShadowLease;
  /** The request is over, whatever its outcome. */
  end(id: string): void;
  /** Throws the registry's refusal (`RegistryRefusal`). */
  register(spec: WorkflowSpec, replace: boolean): Promise<Registration>;
  finish(instance: string): Promise<boolean>;
  /** Extra fields for `/v1/gateway/state` (none for the local store, whose answer stays as it was). */
  describe(): Record<string, unknown> | undefined;
  close(): Promise<void>;
}

/** How often idle instances are looked for. */
export const IDLE_SWEEP_MS = 5_000;

/** One gateway, its state in memory: every change applies when it happens, as before stores existed. */
export class LocalStateStore implements GatewayStateStore {
  readonly state: GatewayState;
  #nextId = 0;
  readonly #sweep: NodeJS.Timeout;

  constructor(options: Omit<GatewayStateOptions, 'onSteChanges' | 'history'>, sink: SteSink) {
    this.state = new GatewayState({ ...options, onSteChanges: (changes) => sink.publish(changes) });
    this.#sweep = setInterval(() => this.state.expire(seconds()), IDLE_SWEEP_MS);
    this.#sweep.unref();
  }

  begin(input: BeginInput): BeginResult & { id: string } {
    const id = String(this.#nextId++);
    const result = this.state.begin({ kind: 'begin', id, ...input }, seconds(), '') as BeginResult & { id: string };
    result.id = id;
    return result;
  }

  admit(id: string, upstream: number): ShadowLease {
    return this.state.admit(id, upstream);
  }

  end(id: string): void {
    this.state.end(id, seconds(), '');
  }

  async register(spec: WorkflowSpec, replace: boolean): Promise<Registration> {
    return this.state.register(spec, replace);
  }

  async finish(instance: string): Promise<boolean> {
    return this.state.finish(instance);
  }

  describe(): undefined {
    return undefined;
  }

  async close(): Promise<void> {
    clearInterval(this.#sweep);
  }
}

const seconds = () => performance.now() / 1000;

/**
 * Gateway state shared by replicas through Redis (`kvflow gateway --redis URL`). Every change is an op
 * appended to one Redis stream; every replica, the one that appended it included, applies the stream in
 * order to its own `GatewayState`, so all replicas hold the same registry, instance progress, learned
 * graph, fixed-prefix guesses and shadow trees, and any replica may serve any step of any instance. A
 * request's `begin` resolves once its op came back from the stream: routing then sees every earlier
 * change, wherever it was made.
 *
 * One replica at a time leads (a lease key): it pushes STE upstream (the others compute the same tables
 * and stay quiet, so an engine hears one gateway), ends the requests of replicas whose heartbeat key
 * expired, expires idle instances, and writes checkpoints (ops rebuilding the live state, see
 * `GatewayState.checkpoint`) after which the stream is trimmed; finished and expired instances are not
 * in a checkpoint, so Redis holds the live state plus the ops since the last checkpoint.
 *
 * When Redis cannot be reached the replica applies its ops locally, keeps them, says so (log line, the
 * `kvflow_gateway_redis_connected` gauge) and on reconnection rebuilds from Redis and appends what it did
 * meanwhile; if Redis came back empty (restarted without persistence), the first replica back seeds it
 * with its own state.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { Gauge, type Registry } from 'prom-client';
import type { WorkflowSpec } from '../../workload/spec.js';
import { GatewayState, type AppliedOp, type BeginResult, type GatewayStateOptions, type StateOp } from './gateway-state.js';
import type { PrefixIndex } from './prefix-index.js';
import type { ShadowLease } from './shadow-cache.js';
import { IDLE_SWEEP_MS, type BeginInput, type GatewayStateStore, type SteSink } from './state-store.js';
import { RegistryRefusal, type Registration } from './workflow-registry.js';
import { REDIS_STATE_DEFAULTS, RedisUnreachable } from './redis-errors.js';

export interface RedisStoreOptions {
  url: string;
  checkpointMs?: number;
  heartbeatMs?: number;
  admissions?: number;
  log: (line: string) => void;
  metrics: Registry;
  /** The routing index over the shadow trees, emptied with them when the state is rebuilt. */
  prefixIndex: PrefixIndex | undefined;
}


/** Offline ops kept for replay on reconnection; beyond this the oldest are dropped (and said so). */
const MAX_OFFLINE_OPS = 100_000;
const KEY_PREFIX = 'kvflow:gateway:';
const KEYS = { log: `${KEY_PREFIX}log`, checkpoint: `${KEY_PREFIX}checkpoint`, epoch: `${KEY_PREFIX}epoch`, leader: `${KEY_PREFIX}leader` };
const replicaKey = (id: string) => `${KEY_PREFIX}replica:${id}`;

/** Seeds an empty Redis with this replica's state, or says whose epoch is there. */
const CLAIM_SCRIPT = `
local epoch = redis.call('GET', KEYS[1])
if epoch then return epoch end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[2])
redis.call('DEL', KEYS[3])
return false`;
/** The checkpoint and the log after it, read at one instant. */
const READ_SCRIPT = `return {redis.call('GET', KEYS[1]) or false, redis.call('XRANGE', KEYS[2], '-', '+')}`;
/** Replaces the checkpoint and trims the log before it, unless another epoch began meanwhile. */
const CHECKPOINT_SCRIPT = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2])
redis.call('XTRIM', KEYS[3], 'MINID', ARGV[3])
return 1`;
/** Keeps the leader lease if it is ours, takes it if free. */
const LEAD_SCRIPT = `
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] or not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0`;

interface Checkpoint {
  epoch: string;
  /** Stream id of the last op it includes. */
  upTo: string;
  ops: AppliedOp[];
}

type Entry = [id: string, fields: string[]];
type ResolvedOptions = Required<Omit<RedisStoreOptions, 'prefixIndex'>> & Pick<RedisStoreOptions, 'prefixIndex'>;

export class RedisStateStore implements GatewayStateStore {
  #state: GatewayState;
  readonly #stateOptions: GatewayStateOptions;
  readonly #options: ResolvedOptions;
  readonly #sink: SteSink;
  readonly #replica = randomUUID();
  /** Commands, and the blocking stream reads on a connection of their own. */
  readonly #writer: Redis;
  readonly #reader: Redis;
  #seq = 0;
  /** Own ops appended and not yet read back, by sequence number. */
  readonly #pending = new Map<number, { op: StateOp; resolve: (result: unknown) => void }>();
  /**
   * Own ops applied while Redis was unreachable, replayed into it on reconnection; `seq` for those that
   * were appended before the outage (Redis may have kept them: they are not sent twice).
   */
  #offline: { op: StateOp; seq?: number }[] = [];
  #requestIds = 0;
  #online = false;
  #leader = false;
  #epoch = '';
  #lastId = '0-0';
  #checkpointedId = '0-0';
  /** While rebuilding, STE changes are not pushed (the rebuilt tables are pushed whole afterwards). */
  #quiet = false;
  /** Whether the shared state had anything when this replica loaded it. */
  #history = false;
  #closed = false;
  readonly #timers: NodeJS.Timeout[] = [];
  #pump: Promise<void> | undefined;
  readonly #connectedGauge: Gauge;
  readonly #leaderGauge: Gauge;
  readonly #offlineGauge: Gauge;

  private constructor(stateOptions: Omit<GatewayStateOptions, 'onSteChanges' | 'history'>, sink: SteSink, options: RedisStoreOptions) {
    this.#options = {
      ...options,
      checkpointMs: options.checkpointMs ?? REDIS_STATE_DEFAULTS.checkpointMs,
      heartbeatMs: options.heartbeatMs ?? REDIS_STATE_DEFAULTS.heartbeatMs,
      admissions: options.admissions ?? REDIS_STATE_DEFAULTS.admissions,
    };
    this.#sink = sink;
    this.#stateOptions = {
      ...stateOptions,
      onSteChanges: (changes) => {
        if (this.#leader && !this.#quiet) sink.publish(changes);
      },
      history: { admits: this.#options.admissions },
    };
    this.#state = new GatewayState(this.#stateOptions);
    const connection = { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: (attempt: number) => Math.min(1_000, 50 * attempt) };
    this.#writer = new Redis(options.url, { ...connection, connectionName: `kvflow-gateway-${this.#replica}` });
    this.#reader = new Redis(options.url, { ...connection, connectionName: `kvflow-gateway-reader-${this.#replica}` });
    for (const client of [this.#writer, this.#reader]) {
      client.on('error', () => {}); // reported once per outage by #goOffline
      client.on('close', () => this.#goOffline('connection closed'));
    }
    const registers = [options.metrics];
    this.#connectedGauge = new Gauge({ name: 'kvflow_gateway_redis_connected', help: '1 while the shared state in Redis is reachable and in sync, 0 while serving from local state', registers });
    this.#leaderGauge = new Gauge({ name: 'kvflow_gateway_redis_leader', help: '1 on the replica that pushes STE, expires instances and writes checkpoints', registers });
    this.#offlineGauge = new Gauge({
      name: 'kvflow_gateway_redis_offline_ops',
      help: 'State changes made while Redis was unreachable, waiting to be replayed into it',
      registers,
      collect: () => this.#offlineGauge.set(this.#offline.length),
    });
  }

  /** Connects (failing with an operational error if Redis does not answer in 5 s), loads the shared state and starts following it. */
  static async connect(
    stateOptions: Omit<GatewayStateOptions, 'onSteChanges' | 'history'>,
    sink: SteSink,
    options: RedisStoreOptions,
  ): Promise<RedisStateStore> {
    const store = new RedisStateStore(stateOptions, sink, options);
    try {
      await withTimeout(Promise.all([store.#writer.connect(), store.#reader.connect()]), 5_000);
      await store.#resync();
    } catch (error) {
      store.#closed = true;
      store.#writer.disconnect();
      store.#reader.disconnect();
      throw new RedisUnreachable(`cannot use Redis at ${redactUrl(options.url)}: ${(error as Error).message || 'no answer'}`);
    }
    store.#pump = store.#follow();
    const heartbeat = setInterval(() => void store.#tick(), store.#options.heartbeatMs);
    const checkpoint = setInterval(() => void store.#checkpoint(), store.#options.checkpointMs);
    const sweep = setInterval(() => store.#leader && store.#online && store.#append({ kind: 'expire' }), Math.min(IDLE_SWEEP_MS, Math.max(100, stateOptions.idleSeconds * 500)));
    store.#timers.push(heartbeat, checkpoint, sweep);
    for (const timer of store.#timers) timer.unref();
    // The first heartbeat (and a leader's first push) once the gateway holds the store.
    setImmediate(() => void store.#tick());
    return store;
  }

  get state(): GatewayState {
    return this.#state;
  }

  begin(input: BeginInput): Promise<BeginResult & { id: string }> {
    const id = `${this.#replica}:${++this.#requestIds}`;
    return this.#submit({ kind: 'begin', id, ...input }).then((result) => ({ ...(result as BeginResult), id }));
  }

  admit(id: string, upstream: number): ShadowLease {
    void this.#submit({ kind: 'admit', id, upstream });
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        void this.#submit({ kind: 'release', id, upstream });
      },
    };
  }

  end(id: string): void {
    void this.#submit({ kind: 'end', id });
  }

  async register(spec: WorkflowSpec, replace: boolean): Promise<Registration> {
    const result = await this.#submit({ kind: 'register', spec, replace });
    if (result instanceof RegistryRefusal) throw result;
    return result as Registration;
  }

  async finish(instance: string): Promise<boolean> {
    return (await this.#submit({ kind: 'finish', instance })) as boolean;
  }

  describe(): Record<string, unknown> {
    return {
      redis: { connected: this.#online, leader: this.#leader, replica: this.#replica, openRequests: this.#state.openRequests, offlineOps: this.#offline.length },
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const timer of this.#timers) clearInterval(timer);
    if (this.#online) {
      // Leave at once rather than after the heartbeat runs out: the leader ends what this replica still holds.
      await Promise.allSettled([
        this.#writer.del(replicaKey(this.#replica)),
        this.#leader ? this.#writer.eval(`if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end`, 1, KEYS.leader, this.#replica) : undefined,
      ]);
    }
    this.#reader.disconnect();
    this.#writer.disconnect();
    await this.#pump;
    for (const { op, resolve } of this.#pending.values()) resolve(this.#applyHere(op));
    this.#pending.clear();
  }

  // --- ops -------------------------------------------------------------------------------------------

  /** Appends `op` and resolves with its result once read back; offline, applies it here and keeps it. */
  #submit(op: StateOp): Promise<unknown> {
    if (!this.#online) return Promise.resolve(this.#applyOffline(op));
    const seq = ++this.#seq;
    return new Promise((resolve) => {
      this.#pending.set(seq, { op, resolve });
      this.#writer.xadd(KEYS.log, '*', 'r', this.#replica, 'n', String(seq), 'o', encodeOp(op)).catch((error: Error) => this.#goOffline(error.message));
    });
  }

  /** A leader's own op (expire, gone): appended, not awaited. */
  #append(op: StateOp): void {
    void this.#submit(op);
  }

  #applyOffline(op: StateOp): unknown {
    this.#offline.push({ op });
    if (this.#offline.length > MAX_OFFLINE_OPS) this.#offline.splice(0, this.#offline.length - MAX_OFFLINE_OPS);
    return this.#applyHere(op);
  }

  #applyHere(op: StateOp): unknown {
    return this.#state.apply({ op, now: Date.now() / 1000, origin: this.#replica });
  }

  #applyEntry(state: GatewayState, [id, fields]: Entry): void {
    let replica = '';
    let seq = 0;
    let encoded = '';
    for (let i = 0; i + 1 < fields.length; i += 2) {
      if (fields[i] === 'r') replica = fields[i + 1]!;
      else if (fields[i] === 'n') seq = Number(fields[i + 1]);
      else if (fields[i] === 'o') encoded = fields[i + 1]!;
    }
    const op = decodeOp(encoded);
    const result = state.apply({ op, now: idMs(id) / 1000, origin: replica });
    if (replica === this.#replica) {
      const waiting = this.#pending.get(seq);
      if (waiting) {
        this.#pending.delete(seq);
        waiting.resolve(result);
      }
    }
  }

  // --- following the stream ------------------------------------------------------------------------------

  async #follow(): Promise<void> {
    while (!this.#closed) {
      if (!this.#online) {
        await sleep(100);
        if (this.#closed || this.#writer.status !== 'ready' || this.#reader.status !== 'ready') continue;
        try {
          await this.#resync();
        } catch (error) {
          this.#goOffline((error as Error).message);
        }
        continue;
      }
      try {
        const reply = (await this.#reader.xread('COUNT', 1000, 'BLOCK', 1000, 'STREAMS', KEYS.log, this.#lastId)) as [string, Entry[]][] | null;
        if (!reply || !this.#online) continue;
        for (const [, entries] of reply) {
          for (const entry of entries) {
            this.#applyEntry(this.#state, entry);
            this.#lastId = entry[0];
          }
        }
      } catch (error) {
        this.#goOffline((error as Error).message);
      }
    }
  }

  #goOffline(reason: string): void {
    if (!this.#online || this.#closed) return;
    this.#online = false;
    this.#setLeader(false);
    this.#connectedGauge.set(0);
    // Ops appended but not read back may never come back: apply them here and replay them later
    // (an op Redis did keep is recognised on replay by its sequence number and not sent twice).
    const waiting = [...this.#pending.entries()].sort(([a], [b]) => a - b);
    this.#pending.clear();
    for (const [seq, { op, resolve }] of waiting) {
      this.#offline.push({ op, seq });
      resolve(this.#applyHere(op));
    }
    this.#options.log(`Redis at ${redactUrl(this.#options.url)} is unreachable (${reason}); serving from local state until it returns`);
  }

  /**
   * Brings this replica in line with Redis: seeds an empty Redis with this state, or rebuilds this state
   * from the checkpoint and log there; then replays the ops made offline.
   */
  async #resync(): Promise<void> {
    const now = Date.now() / 1000;
    const fresh: Checkpoint = { epoch: randomUUID(), upTo: '0-0', ops: this.#state.checkpoint(now) };
    const existing = (await this.#writer.eval(CLAIM_SCRIPT, 3, KEYS.epoch, KEYS.checkpoint, KEYS.log, fresh.epoch, JSON.stringify(fresh, blocksReplacer))) as string | null;
    if (existing === null) {
      // Redis was empty: it now holds this replica's state, offline ops included.
      this.#epoch = fresh.epoch;
      this.#lastId = '0-0';
      this.#checkpointedId = '0-0';
      const included = this.#offline.length;
      this.#offline = [];
      this.#markOnline();
      this.#options.log(`Redis at ${redactUrl(this.#options.url)} held no gateway state: seeded it with this replica's (${included} offline changes included)`);
      return;
    }
    const [checkpointText, entries] = (await this.#writer.eval(READ_SCRIPT, 2, KEYS.checkpoint, KEYS.log)) as [string | null, Entry[]];
    const checkpoint = checkpointText ? (JSON.parse(checkpointText, blocksReviver) as Checkpoint) : { epoch: existing, upTo: '0-0', ops: [] };
    const state = new GatewayState(this.#stateOptions);
    this.#quiet = true;
    let kept: Set<number>;
    try {
      for (const upstream of this.#stateOptions.upstreams) upstream.resetShadow();
      this.#options.prefixIndex?.clear();
      for (const applied of checkpoint.ops) state.apply(applied);
      kept = new Set<number>();
      let lastId = checkpoint.upTo;
      for (const entry of entries) {
        if (compareIds(entry[0], checkpoint.upTo) <= 0) continue;
        this.#applyEntry(state, entry);
        if (fieldOf(entry, 'r') === this.#replica) kept.add(Number(fieldOf(entry, 'n')));
        lastId = entry[0];
      }
      this.#lastId = lastId;
    } finally {
      this.#quiet = false;
    }
    this.#state = state;
    this.#epoch = existing;
    this.#checkpointedId = checkpoint.upTo;
    this.#history = entries.length > 0 || checkpoint.ops.some(({ op }) => op.kind !== 'tables' || op.agents.length > 0);
    // Offline ops go in through the stream like any other: every replica applies them, this one too.
    const offline = this.#offline;
    this.#offline = [];
    this.#markOnline();
    let resent = 0;
    for (const { op, seq } of offline) {
      if (seq !== undefined && kept.has(seq)) continue;
      resent++;
      this.#append(op);
    }
    this.#options.log(`shared state loaded from Redis at ${redactUrl(this.#options.url)}${resent > 0 ? `; ${resent} offline changes replayed into it` : ''}`);
  }

  #markOnline(): void {
    this.#online = true;
    this.#connectedGauge.set(1);
  }

  // --- leading -----------------------------------------------------------------------------------------

  /** Heartbeat; take or keep the leader lease; as leader, end the requests of replicas that went silent. */
  async #tick(): Promise<void> {
    if (!this.#online || this.#closed) return;
    const ttl = this.#options.heartbeatMs * 3;
    try {
      const [, lead] = await Promise.all([
        this.#writer.set(replicaKey(this.#replica), '1', 'PX', ttl),
        this.#writer.eval(LEAD_SCRIPT, 1, KEYS.leader, this.#replica, String(ttl)) as Promise<number>,
      ]);
      this.#setLeader(lead === 1);
      if (!this.#leader) return;
      const others = [...this.#state.origins()].filter((origin) => origin !== this.#replica && origin !== '');
      if (others.length === 0) return;
      const alive = await this.#writer.exists(...others.map(replicaKey));
      if (alive === others.length) return;
      for (const origin of others) if ((await this.#writer.exists(replicaKey(origin))) === 0) this.#append({ kind: 'gone', replica: origin });
    } catch (error) {
      this.#goOffline((error as Error).message);
    }
  }

  #setLeader(leader: boolean): void {
    if (leader === this.#leader) return;
    this.#leader = leader;
    this.#leaderGauge.set(leader ? 1 : 0);
    if (leader) {
      this.#options.log('this replica now leads: it pushes STE upstream, expires idle instances and writes checkpoints');
      // The upstreams may have heard another leader, or another state: whole tables first. A fresh
      // shared state has told them nothing yet, so the first change's push (a whole table) suffices.
      if (this.#history || this.#lastId !== '0-0') this.#sink.resync();
    }
  }

  /** As leader: store the live state as a checkpoint and trim the log before it. */
  async #checkpoint(): Promise<void> {
    if (!this.#leader || !this.#online || this.#closed || this.#lastId === this.#checkpointedId) return;
    const upTo = this.#lastId;
    const checkpoint: Checkpoint = { epoch: this.#epoch, upTo, ops: this.#state.checkpoint(Date.now() / 1000) };
    try {
      const done = await this.#writer.eval(CHECKPOINT_SCRIPT, 3, KEYS.epoch, KEYS.checkpoint, KEYS.log, this.#epoch, JSON.stringify(checkpoint, blocksReplacer), upTo);
      if (done === 1) this.#checkpointedId = upTo;
    } catch (error) {
      this.#goOffline((error as Error).message);
    }
  }
}

// --- encoding ------------------------------------------------------------------------------------------

/** Block ids are 53-bit numbers: sent as the bytes of a Float64Array, in base64 (a third of their JSON). */
function blocksReplacer(key: string, value: unknown): unknown {
  if (key === 'blocks' && Array.isArray(value)) return Buffer.from(Float64Array.from(value as number[]).buffer).toString('base64');
  return value;
}

function blocksReviver(key: string, value: unknown): unknown {
  if (key === 'blocks' && typeof value === 'string') {
    const bytes = Buffer.from(value, 'base64');
    return Array.from(new Float64Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 8));
  }
  return value;
}

export function encodeOp(op: StateOp): string {
  return JSON.stringify(op, blocksReplacer);
}

export function decodeOp(text: string): StateOp {
  return JSON.parse(text, blocksReviver) as StateOp;
}

function fieldOf([, fields]: Entry, name: string): string | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}

/** Milliseconds part of a stream id (Redis's clock when the op was appended: every replica's `now` for it). */
function idMs(id: string): number {
  return Number(id.slice(0, id.indexOf('-')));
}

function compareIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(Number) as [number, number];
  const [bm, bs] = b.split('-').map(Number) as [number, number];
  return am - bm || as - bs;
}

function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer in ${ms / 1000} s`)), ms))),
  ]).finally(() => clearTimeout(timer));
}

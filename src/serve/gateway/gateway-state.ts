/**
 * Everything a gateway decides from: the workflow registry (specs, instance progress, the learned graph),
 * each agent's fixed-prefix guess, the KVFlow fork's agent ids and every upstream's shadow tree. All of
 * it changes only through `apply`, one `StateOp` at a time, so replicas that apply the same ops in the
 * same order hold the same state, push the same STE and route alike (redis-state-store.ts orders them
 * through a Redis stream; local-state-store.ts applies them as they come, which is the single gateway).
 *
 * Requests are named by ids: their begin, lease and end ops may reach a replica that never saw the
 * request itself, and a replica that dies leaves ids behind that a `gone` op closes.
 */
import { OnlineGraphLearner } from '../../graph/learner.js';
import type { WorkflowSpec } from '../../workload/spec.js';
import type { WorkflowHints } from '../http/hints.js';
import { FixedPrefixTracker } from '../http/fixed-prefix.js';
import { AgentIdTable, NO_AGENT_ID, type AgentIdEntry } from './agent-ids.js';
import type { ShadowLease } from './shadow-cache.js';
import type { Upstream } from './upstream.js';
import { RegistryRefusal, WorkflowRegistry, type RegistryLimits, type Registration, type StepContext, type StepTicket } from './workflow-registry.js';

/** A request starting: its workflow step begins and its agent's fixed prefix is guessed. */
export interface BeginOp {
  kind: 'begin';
  id: string;
  hints: WorkflowHints;
  blocks: readonly number[];
  systemTokens: number;
  /** Whether the KVFlow fork's integer agent id is wanted (a kvflow-sglang upstream exists). */
  fork: boolean;
  /** Whether the step's graph context is wanted (an sglang-hints upstream exists). */
  context: boolean;
  /** Replayed from a checkpoint: the fixed-prefix guess is restored separately, so it is not observed. */
  replay?: true;
}

export type StateOp =
  | BeginOp
  | { kind: 'admit'; id: string; upstream: number }
  | { kind: 'release'; id: string; upstream: number }
  | { kind: 'end'; id: string }
  | { kind: 'register'; spec: WorkflowSpec; replace: boolean }
  | { kind: 'finish'; instance: string }
  | { kind: 'expire' }
  /** A replica stopped heartbeating: its requests end and their leases go. */
  | { kind: 'gone'; replica: string }
  /** Checkpoint only: a past prompt re-admitted to one shadow tree (held on when `id` is an open lease). */
  | { kind: 'seed'; upstream: number; blocks: readonly number[]; fixedBlocks: number; tagKey?: string; id?: string }
  /** Checkpoint only: agent ids in id order, and each agent's latest prompt in the tracker's order. */
  | { kind: 'tables'; agents: string[]; prefixes: [string, readonly number[]][] };

/** What `begin` tells the request. */
export interface BeginResult {
  ticket: StepTicket | undefined;
  tagKey: string | undefined;
  fixedBlocks: number;
  forkAgentId: string;
  context: StepContext | undefined;
  /** Set when the registry refused the step (it holds its limit of instances). */
  refusal?: RegistryRefusal;
}

/** An op as it was applied: when (seconds on the ops' clock) and by whose request. */
export interface AppliedOp {
  op: StateOp;
  origin: string;
  now: number;
}

export interface GatewayStateOptions {
  upstreams: readonly Upstream[];
  blockSize: number;
  idleSeconds: number;
  learned: boolean;
  registryLimits?: Partial<RegistryLimits>;
  /** New STE values after an op (the shadow trees have taken them already); whoever pushes STE listens. */
  onSteChanges: (changes: ReadonlyMap<string, number | undefined>) => void;
  onAgentId?: (entry: AgentIdEntry) => void;
  /** Keep what a checkpoint needs (replicated stores only; the single gateway keeps nothing extra). */
  history?: { admits: number };
}

interface OpenRequest {
  origin: string;
  blocks: readonly number[];
  ticket: StepTicket | undefined;
  tagKey: string | undefined;
  fixedBlocks: number;
  /** The begin op, for a checkpoint taken while the request runs. */
  begin: AppliedOp | undefined;
  /** Its shadow-tree leases by upstream (more than one only after a connect failure moved it). */
  leases: RequestLeases;
}

interface Admission {
  upstream: number;
  blocks: readonly number[];
  fixedBlocks: number;
  tagKey: string | undefined;
}

export class GatewayState {
  readonly registry: WorkflowRegistry;
  readonly agentIds: AgentIdTable;
  readonly #fixedPrefixes = new FixedPrefixTracker();
  readonly #options: GatewayStateOptions;
  readonly #open = new Map<string, OpenRequest>();
  readonly #history: CheckpointHistory | undefined;

  constructor(options: GatewayStateOptions) {
    this.#options = options;
    this.registry = new WorkflowRegistry({
      idleSeconds: options.idleSeconds,
      ...(options.registryLimits && { limits: options.registryLimits }),
      ...(options.learned && { learner: new OnlineGraphLearner() }),
    });
    this.agentIds = new AgentIdTable(options.onAgentId ? { onAssign: options.onAgentId } : {});
    if (options.history) this.#history = new CheckpointHistory(options.history.admits);
  }

  begin(op: BeginOp, now: number, origin: string): BeginResult {
    const { hints } = op;
    const wasLive = this.#history === undefined || hints.workflow === undefined || this.registry.isLive(hints.workflow);
    let ticket: StepTicket | undefined;
    try {
      ticket = this.registry.begin(hints, now);
    } catch (error) {
      if (!(error instanceof RegistryRefusal)) throw error;
      return { ticket: undefined, tagKey: undefined, fixedBlocks: 0, forkAgentId: NO_AGENT_ID, context: undefined, refusal: error };
    }
    const tagKey = ticket?.tagKey ?? this.registry.tagKey(hints);
    const fixedBlocks =
      tagKey === undefined || op.replay ? 0 : this.#fixedPrefixes.observe(tagKey, op.blocks, op.systemTokens, this.#options.blockSize);
    const forkAgentId = op.fork ? this.agentIds.wireId(tagKey) : NO_AGENT_ID;
    const context = ticket && op.context ? this.registry.context(ticket) : undefined;
    let applied: AppliedOp | undefined;
    if (this.#history && ticket) {
      // A new life of an instance whose requests may still be running: a checkpoint ends the old one first.
      if (!wasLive && !ticket.learned && this.#history.has(ticket.instance)) {
        this.#history.noteInstanceOp(ticket.instance, false, { op: { kind: 'finish', instance: ticket.instance }, origin, now });
      }
      applied = this.#history.noteInstanceOp(ticket.instance, ticket.learned, { op, origin, now });
    }
    this.#open.set(op.id, { origin, blocks: op.blocks, ticket, tagKey, fixedBlocks, begin: applied, leases: new RequestLeases() });
    if (ticket) this.#publishSte();
    return { ticket, tagKey, fixedBlocks, forkAgentId, context };
  }

  /** Locks the request's prompt into one upstream's shadow tree (unknown ids: nothing, the request began before this state). */
  admit(id: string, upstream: number): ShadowLease {
    const request = this.#open.get(id);
    const target = this.#options.upstreams[upstream];
    if (!request || !target) return NO_LEASE;
    request.leases.get(upstream)?.release();
    const lease = target.admit(request.blocks, request.fixedBlocks, request.tagKey);
    request.leases.set(upstream, lease);
    this.#history?.noteAdmission({ upstream, blocks: request.blocks, fixedBlocks: request.fixedBlocks, tagKey: request.tagKey });
    return lease;
  }

  release(id: string, upstream: number): void {
    const leases = this.#open.get(id)?.leases;
    leases?.get(upstream)?.release();
    leases?.delete(upstream);
  }

  end(id: string, now: number, origin: string): void {
    const request = this.#open.get(id);
    if (!request) return;
    this.#open.delete(id);
    request.leases.releaseAll();
    // A checkpoint replays an ended request's begin without its prompt: do not keep the prompt for it.
    if (request.begin && request.begin.op.kind === 'begin') request.begin.op = { ...request.begin.op, blocks: [], replay: true };
    if (!request.ticket) return;
    this.registry.end(request.ticket, now);
    this.#history?.noteInstanceOp(request.ticket.instance, request.ticket.learned, { op: { kind: 'end', id }, origin, now });
    this.#publishSte();
  }

  register(spec: WorkflowSpec, replace: boolean): Registration {
    const outcome = this.registry.register(spec, { replace });
    this.#publishSte();
    return outcome;
  }

  finish(instance: string): boolean {
    const finished = this.registry.finish(instance);
    if (finished) this.#publishSte();
    return finished;
  }

  expire(now: number): void {
    if (this.registry.expireIdle(now) > 0) this.#publishSte();
  }

  /** Ends every request of `replica` and drops its leases (a request's later end or release is then a no-op). */
  gone(replica: string, now: number): void {
    for (const [id, request] of this.#open) if (request.origin === replica) this.end(id, now, replica);
  }

  /** Requests begun and not ended. */
  get openRequests(): number {
    return this.#open.size;
  }

  /** Replicas that hold open requests or leases here (a dead one among them needs a `gone`). */
  origins(): Set<string> {
    const origins = new Set<string>();
    for (const request of this.#open.values()) origins.add(request.origin);
    return origins;
  }

  /** Applies any op (the replicated path); returns what its typed method returns. */
  apply({ op, now, origin }: AppliedOp): unknown {
    switch (op.kind) {
      case 'begin':
        return this.begin(op, now, origin);
      case 'admit':
        return this.admit(op.id, op.upstream);
      case 'release':
        return this.release(op.id, op.upstream);
      case 'end':
        return this.end(op.id, now, origin);
      case 'register':
        try {
          return this.register(op.spec, op.replace);
        } catch (error) {
          if (error instanceof RegistryRefusal) return error;
          throw error;
        }
      case 'finish':
        return this.finish(op.instance);
      case 'expire':
        return this.expire(now);
      case 'gone':
        return this.gone(op.replica, now);
      case 'seed':
        return this.#seed(op, origin);
      case 'tables':
        for (const key of op.agents) this.agentIds.idOf(key);
        for (const [key, blocks] of op.prefixes) this.#fixedPrefixes.observe(key, blocks, 0, this.#options.blockSize);
        return undefined;
    }
  }

  /**
   * Ops that rebuild this state on an empty one: specs, the ops of instances still live (open requests
   * with their prompts), the last admissions to the shadow trees (open leases held), the agent ids and
   * fixed-prefix guesses. Finished and expired instances are left out, which is what bounds the store.
   */
  checkpoint(now: number): AppliedOp[] {
    const history = this.#history;
    if (!history) throw new Error('checkpoint(): this state keeps no history');
    const ops: AppliedOp[] = [];
    const at = { origin: '', now: 0 };
    for (const spec of this.registry.list()) ops.push({ ...at, op: { kind: 'register', spec, replace: true } });
    // Agent ids first (replayed begins would hand them out in another order), fixed-prefix guesses last.
    ops.push({ ...at, op: { kind: 'tables', agents: this.agentIds.entries().map((entry) => entry.key), prefixes: [] } });
    history.prune((instance) => this.registry.isLive(instance), now, this.#options.idleSeconds);
    // A loop, not push(...ops): 100,000 live instances give more ops than a call takes arguments.
    const instanceOps = history.instanceOps();
    for (const op of instanceOps) ops.push(op);
    for (const admission of history.admissions()) ops.push({ ...at, op: { kind: 'seed', ...seedOf(admission) } });
    // Requests in flight outside a live instance: their prompts (for a retry's admission) and their
    // leases, held until they end.
    const begun = new Set(instanceOps.map(({ op }) => (op.kind === 'begin' ? op.id : '')));
    for (const [id, request] of this.#open) {
      if (begun.has(id)) continue;
      ops.push({ origin: request.origin, now: 0, op: { kind: 'begin', id, hints: {}, blocks: request.blocks, systemTokens: 0, fork: false, context: false, replay: true } });
    }
    for (const [id, request] of this.#open) {
      for (const upstream of request.leases.upstreams()) {
        ops.push({ origin: request.origin, now: 0, op: { kind: 'seed', upstream, blocks: request.blocks, fixedBlocks: request.fixedBlocks, ...(request.tagKey !== undefined && { tagKey: request.tagKey }), id } });
      }
    }
    ops.push({ ...at, op: { kind: 'tables', agents: [], prefixes: this.#fixedPrefixes.entries() } });
    return ops;
  }

  #seed(op: Extract<StateOp, { kind: 'seed' }>, origin: string): void {
    const target = this.#options.upstreams[op.upstream];
    if (!target) return;
    const lease = target.admit(op.blocks, op.fixedBlocks, op.tagKey);
    this.#history?.noteAdmission({ upstream: op.upstream, blocks: op.blocks, fixedBlocks: op.fixedBlocks, tagKey: op.tagKey });
    const request = op.id === undefined ? undefined : this.#open.get(op.id);
    if (request) request.leases.set(op.upstream, lease);
    else lease.release();
  }

  #publishSte(): void {
    const changes = this.registry.takeChanges();
    if (!changes) return;
    for (const upstream of this.#options.upstreams) upstream.shadow.applySte(changes);
    this.#options.onSteChanges(changes);
  }
}

const NO_LEASE: ShadowLease = { release: () => {} };

/**
 * A request's shadow-tree leases by upstream, in the order taken, as a Map would hold them: the usual single
 * lease in two fields, a Map only once a second upstream is admitted (a connect failure moved the request).
 * Every request has one of these for as long as it runs: a Map each was the largest record in the gateway's
 * per-request garbage that outlives a scavenge.
 */
export class RequestLeases {
  #upstream = -1;
  #lease: ShadowLease | undefined = undefined;
  #more: Map<number, ShadowLease> | undefined = undefined;

  get(upstream: number): ShadowLease | undefined {
    if (this.#more) return this.#more.get(upstream);
    return upstream === this.#upstream ? this.#lease : undefined;
  }

  set(upstream: number, lease: ShadowLease): void {
    if (this.#more) this.#more.set(upstream, lease);
    else if (this.#lease === undefined || upstream === this.#upstream) {
      this.#upstream = upstream;
      this.#lease = lease;
    } else {
      this.#more = new Map([
        [this.#upstream, this.#lease],
        [upstream, lease],
      ]);
      this.#lease = undefined;
    }
  }

  delete(upstream: number): void {
    if (this.#more) this.#more.delete(upstream);
    else if (upstream === this.#upstream) {
      this.#upstream = -1;
      this.#lease = undefined;
    }
  }

  /** Upstreams holding a lease, oldest first. */
  upstreams(): number[] {
    if (this.#more) return [...this.#more.keys()];
    return this.#lease === undefined ? [] : [this.#upstream];
  }

  releaseAll(): void {
    if (this.#more) for (const lease of this.#more.values()) lease.release();
    else this.#lease?.release();
  }
}

function seedOf(admission: Admission) {
  return {
    upstream: admission.upstream,
    blocks: admission.blocks,
    fixedBlocks: admission.fixedBlocks,
    ...(admission.tagKey !== undefined && { tagKey: admission.tagKey }),
  };
}

/**
 * What a checkpoint keeps beyond the live tables: the ops of each instance (dropped when it is over) and
 * a ring of the last admissions, from which the shadow trees are re-grown.
 */
class CheckpointHistory {
  readonly #instances = new Map<string, { learned: boolean; lastSeen: number; ops: { seq: number; applied: AppliedOp }[] }>();
  readonly #admissions: (Admission | undefined)[];
  #next = 0;
  #seq = 0;

  constructor(admissions: number) {
    this.#admissions = new Array<Admission | undefined>(Math.max(1, admissions)).fill(undefined);
  }

  noteInstanceOp(instance: string, learned: boolean, applied: AppliedOp): AppliedOp {
    let entry = this.#instances.get(instance);
    if (!entry) this.#instances.set(instance, (entry = { learned, lastSeen: applied.now, ops: [] }));
    entry.lastSeen = applied.now;
    entry.ops.push({ seq: this.#seq++, applied });
    return applied;
  }

  has(instance: string): boolean {
    return this.#instances.has(instance);
  }

  noteAdmission(admission: Admission): void {
    this.#admissions[this.#next] = admission;
    this.#next = (this.#next + 1) % this.#admissions.length;
  }

  /**
   * Forgets instances that are over: registered ones the registry no longer tracks (finished, expired,
   * replaced), learned ones silent for longer than `idleSeconds` (the learner keeps their counts meanwhile).
   */
  prune(isLive: (instance: string) => boolean, now: number, idleSeconds: number): void {
    for (const [instance, entry] of this.#instances) {
      const over = entry.learned ? now - entry.lastSeen > idleSeconds : !isLive(instance);
      if (over) this.#instances.delete(instance);
    }
  }

  /** Every kept instance op, in the order they were applied. */
  instanceOps(): AppliedOp[] {
    const all = [...this.#instances.values()].flatMap((entry) => entry.ops);
    all.sort((a, b) => a.seq - b.seq);
    return all.map((entry) => entry.applied);
  }

  /** The kept admissions, oldest first. */
  *admissions(): Generator<Admission> {
    const n = this.#admissions.length;
    for (let i = 0; i < n; i++) {
      const admission = this.#admissions[(this.#next + i) % n];
      if (admission) yield admission;
    }
  }
}

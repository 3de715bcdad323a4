/**
 * Workflows registered at the gateway (`POST /v1/workflows` with a workflow spec) and the live instances
 * its traffic belongs to. Each spec's Agent Step Graph feeds a `WorkflowSte` with begin/end events from
 * the requests passing through, which gives every agent (or instance/agent, for private agents) its
 * steps-to-execution. Instances end when the client says so or after they have been idle a while.
 *
 * With a learner, requests that name an agent and a workflow instance but no registered spec feed the
 * online graph learner instead, which learns transitions between agents per instance and serves STE
 * for `instance/agent` keys (issue 4's `OnlineGraphLearner`); a registered spec always wins.
 */
import { STE_HORIZON } from '../../graph/tracker.js';
import { AgentStepGraph } from '../../graph/graph.js';
import type { OnlineGraphLearner } from '../../graph/learner.js';
import { WorkflowSte } from '../../graph/workflow-ste.js';
import type { WorkflowSpec } from '../../workload/spec.js';
import type { WorkflowHints } from '../http/hints.js';
import { StepOutlook } from './step-outlook.js';

interface RegisteredWorkflow {
  spec: WorkflowSpec;
  ste: WorkflowSte;
  outlook: StepOutlook;
  /** Live instances of this workflow, so replacing it costs what it holds, not what the gateway holds. */
  instances: Set<string>;
}

/** Why the registry refused: it is at a limit (HTTP 429), or the name is taken (HTTP 409). */
export class RegistryRefusal extends Error {
  override readonly name = 'RegistryRefusal';
  constructor(
    readonly reason: 'full' | 'exists',
    message: string,
  ) {
    super(message);
  }
}

export interface RegistryLimits {
  /** Most registered workflows. */
  maxWorkflows: number;
  /** Most live instances of registered workflows. */
  maxInstances: number;
}

export const REGISTRY_LIMIT_DEFAULTS: RegistryLimits = { maxWorkflows: 1_000, maxInstances: 100_000 };

/** What `register` did. */
export interface Registration {
  replaced: boolean;
  /** Live instances of the replaced spec, which are dropped (they hold no STE any more). */
  droppedInstances: number;
}

interface LiveInstance {
  workflow: RegisteredWorkflow;
  lastSeen: number;
  /** Requests in flight per step id: a retried step begins once and ends with its last request. */
  steps: Map<string, number>;
  /** Steps begun so far (the next step's 0-based index). */
  begun: number;
  /** The step that ended last, else the one that began last: the next step's parent. */
  lastEnded: string | undefined;
  lastBegun: string | undefined;
}

/** A request's place in a registered workflow, returned by `begin` and handed back to `end`. */
export interface StepTicket {
  instance: string;
  agent: string;
  step: string | undefined;
  /** Key the agent's fixed prompt is tagged and published under. */
  tagKey: string;
  /** Tracked by the learned graph rather than a registered spec. */
  learned: boolean;
  /** The step's id: the client's, else `agent#index` (registered workflows only). */
  stepId?: string;
  /** 0-based position of the step in its instance (registered workflows only). */
  stepIndex?: number;
  /** The step before it in its instance, if any. */
  parentStep?: string;
  /** `now` when it began. */
  startedAt?: number;
}

/** What the graph says about a step's surroundings (see StepOutlook). */
export interface StepContext {
  children: string[];
  totalSteps: number | undefined;
  /** Steps until the agent's next step in this instance once this one ends (the graph's loop distance; Infinity: never). */
  steAfter: number;
  /** Mean seconds a step of any registered workflow took so far (undefined before the first ended). */
  meanStepSeconds: number | undefined;
}

export class WorkflowRegistry {
  readonly #workflows = new Map<string, RegisteredWorkflow>();
  readonly #instances = new Map<string, LiveInstance>();
  readonly #idleSeconds: number;
  readonly #learner: OnlineGraphLearner | undefined;
  /** Values last handed out by `takeChanges`. */
  readonly #published = new Map<string, number>();
  /** Keys of replaced workflows, which must be re-read on the next `takeChanges`. */
  readonly #dropped = new Set<string>();
  /** Exponentially weighted mean step duration in seconds. */
  #meanStepSeconds: number | undefined;
  /** Workflows whose STE may have moved since the last `takeChanges`. */
  readonly #dirty = new Set<RegisteredWorkflow>();
  /** The workflows that currently give each key a value (a shared agent name may be in several). */
  readonly #owners = new Map<string, Set<RegisteredWorkflow>>();
  /** The first registered workflow declaring each agent (for requests naming no spec). */
  readonly #declaring = new Map<string, RegisteredWorkflow>();
  readonly #limits: RegistryLimits;
  #publishedVersion = 0;

  constructor(options: { idleSeconds: number; learner?: OnlineGraphLearner; limits?: Partial<RegistryLimits> }) {
    this.#idleSeconds = options.idleSeconds;
    this.#learner = options.learner;
    this.#limits = { ...REGISTRY_LIMIT_DEFAULTS, ...options.limits };
  }

  /**
   * Registers a workflow by its spec's name. An existing name is refused unless `replace` is set; a
   * replaced spec's live instances are dropped, and their STE with them.
   */
  register(spec: WorkflowSpec, options: { replace?: boolean } = {}): Registration {
    const previous = this.#workflows.get(spec.name);
    if (previous && !options.replace) {
      throw new RegistryRefusal(
        'exists',
        `workflow "${spec.name}" is already registered (${previous.instances.size} live instances); ` +
          'register it with replace to swap the spec (its live instances are dropped)',
      );
    }
    if (!previous && this.#workflows.size >= this.#limits.maxWorkflows) {
      throw new RegistryRefusal('full', `the gateway holds its limit of ${this.#limits.maxWorkflows} workflows (--max-workflows)`);
    }
    let droppedInstances = 0;
    if (previous) {
      for (const id of previous.instances) {
        this.#instances.delete(id);
        droppedInstances++;
      }
      for (const key of previous.ste.snapshot().keys()) {
        this.#dropped.add(key);
        this.#owners.get(key)?.delete(previous);
      }
      this.#dirty.delete(previous);
      this.#workflows.delete(spec.name);
    }
    const workflow: RegisteredWorkflow = {
      spec,
      // Bounded search: a registered 100,000-agent chain costs a request what a 10-agent one does.
      ste: new WorkflowSte(AgentStepGraph.fromSpec(spec), { shareAgents: spec.shareAgents, horizon: STE_HORIZON }),
      outlook: new StepOutlook(spec),
      instances: new Set(),
    };
    this.#workflows.set(spec.name, workflow);
    if (previous) this.#reindexDeclaring();
    else for (const agent of Object.keys(spec.agents)) if (!this.#declaring.has(agent)) this.#declaring.set(agent, workflow);
    return { replaced: previous !== undefined, droppedInstances };
  }

  /** Whether a spec of this name is registered. */
  has(name: string): boolean {
    return this.#workflows.has(name);
  }

  get workflowCount(): number {
    return this.#workflows.size;
  }

  /** Rebuilds the agent index after a replacement (registration order decides, as before). */
  #reindexDeclaring(): void {
    this.#declaring.clear();
    for (const workflow of this.#workflows.values()) {
      for (const agent of Object.keys(workflow.spec.agents)) if (!this.#declaring.has(agent)) this.#declaring.set(agent, workflow);
    }
  }

  /** Registered specs, in registration order. */
  list(): WorkflowSpec[] {
    return [...this.#workflows.values()].map((workflow) => workflow.spec);
  }

  /** Whether `instance` is a live instance of a registered workflow. */
  isLive(instance: string): boolean {
    return this.#instances.has(instance);
  }

  get instanceCount(): number {
    return this.#instances.size;
  }

  /** Sessions the learned graph keeps (0 without a learner). */
  get learnedSessions(): number {
    return this.#learner?.liveSessions ?? 0;
  }

  /**
   * The key a request's fixed prompt is tagged with: `instance/agent` for a registered spec with private
   * agents, else the agent name. Undefined without an agent.
   */
  tagKey(hints: WorkflowHints): string | undefined {
    if (hints.agent === undefined) return undefined;
    if (hints.workflow === undefined) return hints.agent;
    const workflow = this.#workflowOf(hints.workflow, hints);
    if (workflow) return workflow.ste.tagKey(hints.workflow, hints.agent);
    return this.#learner ? this.#learner.tagKey(hints.workflow, hints.agent) : hints.agent;
  }

  /** A request of a registered workflow starts: its agent runs (STE 0). Undefined when nothing is tracked. */
  begin(hints: WorkflowHints, now: number): StepTicket | undefined {
    const { workflow: instance, agent, step } = hints;
    if (instance === undefined || agent === undefined) return undefined;
    const workflow = this.#workflowOf(instance, hints);
    if (!workflow) return this.#learner ? this.#beginLearned(instance, agent, step) : undefined;
    let live = this.#instances.get(instance);
    if (!live || live.workflow !== workflow) {
      if (!live && this.#instances.size >= this.#limits.maxInstances) {
        throw new RegistryRefusal('full', `the gateway tracks its limit of ${this.#limits.maxInstances} live workflow instances (--max-instances)`);
      }
      if (live) live.workflow.instances.delete(instance);
      live = { workflow, lastSeen: now, steps: new Map(), begun: 0, lastEnded: undefined, lastBegun: undefined };
      this.#instances.set(instance, live);
      workflow.instances.add(instance);
    }
    this.#touch(instance, live, now);
    const inFlight = step === undefined ? 0 : (live.steps.get(step) ?? 0);
    if (step !== undefined) live.steps.set(step, inFlight + 1);
    const tagKey = workflow.ste.tagKey(instance, agent);
    const ticket: StepTicket = { instance, agent, step, tagKey, learned: false, stepId: step ?? `${agent}#${live.begun}`, startedAt: now };
    const parent = live.lastEnded ?? live.lastBegun;
    if (parent !== undefined && parent !== ticket.stepId) ticket.parentStep = parent;
    ticket.stepIndex = inFlight === 0 ? live.begun : Math.max(0, live.begun - 1);
    if (inFlight === 0) {
      live.begun++;
      live.lastBegun = ticket.stepId;
      workflow.ste.begin(instance, agent);
      this.#dirty.add(workflow);
    }
    return ticket;
  }

  /** The graph's view of a registered workflow's step (undefined for learned or finished instances). */
  context(ticket: StepTicket): StepContext | undefined {
    const live = ticket.learned ? undefined : this.#instances.get(ticket.instance);
    if (!live) return undefined;
    const { outlook } = live.workflow;
    // Within this instance only: with shared agents another instance may reach the agent sooner, which
    // the STE pushes (kvflow kinds) capture and these per-request hints do not.
    const steAfter = outlook.returnSteps(ticket.agent);
    return { children: outlook.children(ticket.agent), totalSteps: outlook.totalSteps, steAfter, meanStepSeconds: this.#meanStepSeconds };
  }

  /** The learner has no notion of retries or instances ending: it sees each request begin and end. */
  #beginLearned(instance: string, agent: string, step: string | undefined): StepTicket {
    this.#learner!.begin(instance, agent);
    return { instance, agent, step, tagKey: this.#learner!.tagKey(instance, agent), learned: true };
  }

  /** The request of `ticket` ended (whatever its outcome): its agent finished this step. */
  end(ticket: StepTicket, now: number): void {
    if (ticket.learned) {
      this.#learner?.end(ticket.instance, ticket.agent);
      return;
    }
    const live = this.#instances.get(ticket.instance);
    if (!live) return;
    this.#touch(ticket.instance, live, now);
    if (ticket.startedAt !== undefined) {
      const seconds = Math.max(0, now - ticket.startedAt);
      this.#meanStepSeconds = this.#meanStepSeconds === undefined ? seconds : this.#meanStepSeconds * 0.9 + seconds * 0.1;
    }
    if (ticket.stepId !== undefined) live.lastEnded = ticket.stepId;
    if (ticket.step !== undefined) {
      const left = (live.steps.get(ticket.step) ?? 1) - 1;
      if (left > 0) {
        live.steps.set(ticket.step, left);
        return;
      }
      live.steps.delete(ticket.step);
    }
    live.workflow.ste.end(ticket.instance, ticket.agent);
    this.#dirty.add(live.workflow);
  }

  /** The instance is over: it no longer holds any agent's STE. Returns whether it was live. */
  finish(instance: string): boolean {
    const live = this.#instances.get(instance);
    if (!live) return false;
    this.#instances.delete(instance);
    live.workflow.instances.delete(instance);
    live.workflow.ste.finish(instance);
    this.#dirty.add(live.workflow);
    return true;
  }

  /** Moves the instance to the end of `#instances`, which so stays in last-heard order. */
  #touch(instance: string, live: LiveInstance, now: number): void {
    live.lastSeen = now;
    this.#instances.delete(instance);
    this.#instances.set(instance, live);
  }

  /**
   * Finishes instances idle (nothing in flight, nothing heard) for longer than the idle limit. Instances
   * are in last-heard order, so this reads those past the limit (and any with requests in flight
   * among them), not every live instance.
   */
  expireIdle(now: number): number {
    let expired = 0;
    for (const [id, live] of this.#instances) {
      if (now - live.lastSeen <= this.#idleSeconds) break;
      if (live.steps.size === 0 && this.finish(id)) expired++;
    }
    return expired;
  }

  /** Every key with a known STE as of the last `takeChanges` (the minimum over workflows when keys coincide). */
  snapshot(): ReadonlyMap<string, number> {
    return this.#published;
  }

  /** Changes whenever `snapshot()` does, so that readers can keep what they built from it. */
  get snapshotVersion(): number {
    return this.#publishedVersion;
  }

  /**
   * Keys whose STE changed since the last call (undefined: no longer known), or undefined if none moved.
   * Costs O(changed keys x workflows giving that key a value): only workflows that moved are asked,
   * and each key is resolved against its own owners, not against every registered workflow.
   */
  takeChanges(): Map<string, number | undefined> | undefined {
    const keys = this.#dropped;
    for (const workflow of this.#dirty) {
      for (const [key, value] of workflow.ste.takeChanges()) {
        keys.add(key);
        let owners = this.#owners.get(key);
        if (value !== undefined) {
          if (!owners) this.#owners.set(key, (owners = new Set()));
          owners.add(workflow);
        } else if (owners) {
          owners.delete(workflow);
          if (owners.size === 0) this.#owners.delete(key);
        }
      }
    }
    this.#dirty.clear();
    if (this.#learner) for (const key of this.#learner.takeChanges().keys()) keys.add(key);
    if (keys.size === 0) return undefined;
    const changes = new Map<string, number | undefined>();
    for (const key of keys) {
      let value = this.#learner?.snapshot().get(key);
      for (const { ste } of this.#owners.get(key) ?? []) {
        const own = ste.snapshot().get(key);
        if (own !== undefined && !(own >= (value ?? Infinity))) value = own;
      }
      if (this.#published.get(key) === value) continue;
      changes.set(key, value);
      if (value === undefined) this.#published.delete(key);
      else this.#published.set(key, value);
    }
    keys.clear();
    if (changes.size === 0) return undefined;
    this.#publishedVersion++;
    return changes;
  }

  /** The spec an instance belongs to: the one named by the hints, else its earlier spec, else the one declaring the agent. */
  #workflowOf(instance: string, hints: WorkflowHints): RegisteredWorkflow | undefined {
    if (hints.spec !== undefined) return this.#workflows.get(hints.spec);
    const live = this.#instances.get(instance);
    if (live) return live.workflow;
    return hints.agent === undefined ? undefined : this.#declaring.get(hints.agent);
  }
}

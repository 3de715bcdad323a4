/**
 * Steps-to-execution over live workflow instances: callers report agents beginning and ending per
 * instance, and ask how many steps away each agent is (0 = running, 1 = next, ...). An agent's STE is
 * the minimum over live instances, since its fixed prompt is needed as soon as any of them reaches it.
 * Values are recomputed lazily, per changed instance, only when `version` moved.
 */
import type { AgentStepGraph } from './graph.js';
import { InstanceProgress } from './progress.js';
import { compileTopology, type Topology } from './topology.js';

export class StepTracker {
  private topology: Topology;
  private compiledRevision: number;
  private readonly instances = new Map<string, InstanceProgress>();
  private changes = 0;
  private minimum: Float64Array;
  private minimumVersion = -1;

  constructor(private readonly graph: AgentStepGraph) {
    this.topology = compileTopology(graph);
    this.compiledRevision = graph.revision;
    this.minimum = new Float64Array(this.topology.size);
  }

  /** Increases whenever any STE may have changed (an event, or the graph itself changed). */
  get version(): number {
    this.followGraph();
    return this.changes;
  }

  /** `agent` starts running in `instance` (creating the instance on its first event). */
  begin(instance: string, agent: string): void {
    const id = this.agentId(agent);
    this.progressOf(instance).begin(id);
    this.changes++;
  }

  /** `agent` finished running in `instance`. */
  end(instance: string, agent: string): void {
    const id = this.agentId(agent);
    this.progressOf(instance).end(id);
    this.changes++;
  }

  /** `instance` is done: it no longer contributes to any STE. */
  finish(instance: string): void {
    if (this.instances.delete(instance)) this.changes++;
  }

  /** The agent's STE, or undefined when no live instance is known to reach it. */
  steOf(agent: string): number | undefined {
    this.followGraph();
    const id = this.graph.idOf(agent);
    const steps = id === undefined ? Infinity : this.minimumSteps()[id]!;
    return Number.isFinite(steps) ? steps : undefined;
  }

  /** Every agent with a known STE. */
  snapshot(): Map<string, number> {
    this.followGraph();
    const minimum = this.minimumSteps();
    const known = new Map<string, number>();
    this.graph.agents.forEach((agent, id) => {
      if (Number.isFinite(minimum[id])) known.set(agent, minimum[id]!);
    });
    return known;
  }

  private minimumSteps(): Float64Array {
    if (this.minimumVersion === this.changes) return this.minimum;
    this.minimum.fill(Infinity);
    for (const progress of this.instances.values()) {
      const steps = progress.steps();
      for (let id = 0; id < steps.length; id++) {
        if (steps[id]! < this.minimum[id]!) this.minimum[id] = steps[id]!;
      }
    }
    this.minimumVersion = this.changes;
    return this.minimum;
  }

  private progressOf(instance: string): InstanceProgress {
    this.followGraph();
    let progress = this.instances.get(instance);
    if (progress === undefined) {
      progress = new InstanceProgress(this.topology);
      this.instances.set(instance, progress);
    }
    return progress;
  }

  private agentId(agent: string): number {
    const id = this.graph.idOf(agent);
    if (id === undefined) throw new Error(`unknown agent "${agent}": add it to the graph first`);
    return id;
  }

  /** Recompiles after the graph changed (e.g. a learner added an edge); live progress carries over. */
  private followGraph(): void {
    if (this.compiledRevision === this.graph.revision) return;
    this.topology = compileTopology(this.graph);
    this.compiledRevision = this.graph.revision;
    for (const progress of this.instances.values()) progress.adopt(this.topology);
    this.minimum = new Float64Array(this.topology.size);
    this.changes++;
  }
}

/**
 * The Agent Step Graph (KVFlow, arXiv 2507.07400): agents are nodes, the workflow's control flow is the
 * edges. Built from a workflow spec or edge by edge (e.g. by a learner watching traffic). It only stores
 * structure; `StepTracker` turns it plus live progress into steps-to-execution.
 */
import type { EdgeSpec, WorkflowSpec } from '../workload/spec.js';
import { edgeSources, edgeTargets } from '../workload/spec-rules.js';

export class AgentStepGraph {
  private readonly names: string[] = [];
  private readonly ids = new Map<string, number>();
  private readonly edgeList: EdgeSpec[] = [];
  /** Agents that already have their one non-loop outgoing edge, or their one loop edge. */
  private readonly continuing = new Set<string>();
  private readonly looping = new Set<string>();
  private startAgent: string | undefined;
  private roundCount = Infinity;
  private changes = 0;

  /** The graph of a validated spec: its agents in declaration order, its edges, start and rounds. */
  static fromSpec(spec: WorkflowSpec): AgentStepGraph {
    const graph = new AgentStepGraph();
    for (const agent of Object.keys(spec.agents)) graph.addAgent(agent);
    for (const edge of spec.edges) graph.addEdge(edge);
    graph.start = spec.start;
    graph.rounds = spec.rounds;
    return graph;
  }

  /** Declares an agent (idempotent) and returns its dense integer id. */
  addAgent(name: string): number {
    const known = this.ids.get(name);
    if (known !== undefined) return known;
    const id = this.names.length;
    this.names.push(name);
    this.ids.set(name, id);
    this.changes++;
    return id;
  }

  /**
   * Adds an edge, declaring its agents if needed. The step rules need one continuation per agent, so an
   * agent may have at most one non-loop outgoing edge (chain, branch, fanout or join) and one loop edge.
   */
  addEdge(edge: EdgeSpec): void {
    if (edge.kind === 'loop' && !isLoopBound(edge.count, edge.probability)) {
      throw new Error(`loop ${edge.from} -> ${edge.to} needs exactly one of count (integer >= 1) or probability (in (0, 1))`);
    }
    const sources = edgeSources(edge);
    const taken = edge.kind === 'loop' ? this.looping : this.continuing;
    const clash = sources.find((agent) => taken.has(agent));
    if (clash !== undefined) throw new Error(`agent "${clash}" already has a ${edge.kind === 'loop' ? 'loop' : 'non-loop outgoing'} edge`);
    for (const agent of [...sources, ...edgeTargets(edge)]) this.addAgent(agent);
    for (const agent of sources) taken.add(agent);
    this.edgeList.push(edge);
    this.changes++;
  }

  /** Where each round begins; terminal agents lead back here while an instance has rounds left. */
  get start(): string | undefined {
    return this.startAgent;
  }

  set start(agent: string | undefined) {
    if (agent !== undefined) this.addAgent(agent);
    this.startAgent = agent;
    this.changes++;
  }

  /** Rounds each instance runs; Infinity (the default) means a workflow that keeps repeating. */
  get rounds(): number {
    return this.roundCount;
  }

  set rounds(rounds: number) {
    if (!(rounds >= 1)) throw new RangeError(`rounds must be >= 1, got ${rounds}`);
    this.roundCount = rounds;
    this.changes++;
  }

  /** Increases on every change, so that derived structures know when to rebuild. */
  get revision(): number {
    return this.changes;
  }

  /** Agent names, indexed by id. */
  get agents(): readonly string[] {
    return this.names;
  }

  get edges(): readonly EdgeSpec[] {
    return this.edgeList;
  }

  idOf(agent: string): number | undefined {
    return this.ids.get(agent);
  }
}

function isLoopBound(count: number | undefined, probability: number | undefined): boolean {
  if (count !== undefined) return probability === undefined && Number.isInteger(count) && count >= 1;
  return probability !== undefined && probability > 0 && probability < 1;
}

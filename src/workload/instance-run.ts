/**
 * Executes the control flow of one workflow instance: which agents run, in which order, and which
 * earlier steps each one waits for. Branch choices and probabilistic loops draw from the instance's own
 * random stream, so an instance's path does not depend on how instances are interleaved.
 */
import { InputError } from '../errors.js';
import type { Rng } from './rng.js';
import type { EdgeSpec, JoinEdge, LoopEdge, WorkflowSpec } from './spec.js';
import { edgeSources } from './spec-rules.js';

/** One agent call of an instance. */
export interface WorkflowStep {
  /** `${workflow}:${round}:${step}:${agent}`, with round and step counted from 0. */
  id: string;
  agent: string;
  /** Ids of the steps that must complete first (empty for the instance's first step). */
  after: string[];
}

/** The round of a step id made by `InstanceRun` (`${workflow}:${round}:${step}:${agent}`; workflow ids have no colon). */
export function stepRound(id: string): number {
  const first = id.indexOf(':');
  return Number(id.slice(first + 1, id.indexOf(':', first + 1)));
}

/** How control leaves an agent: at most one loop edge and one other edge (the spec rules ensure it). */
interface AgentExits {
  loop?: LoopEdge;
  next?: Exclude<EdgeSpec, LoopEdge>;
}

interface PendingStep {
  agent: string;
  after: string[];
}

export class InstanceRun {
  private readonly exits = new Map<string, AgentExits>();
  private readonly queue: PendingStep[] = [];
  private readonly loopsTaken = new Map<LoopEdge, number>();
  /** Per join, the members that arrived this time round, with the step that arrived. */
  private readonly arrivals = new Map<JoinEdge, Map<string, string>>();
  /** Steps of the current round after which nothing follows: the next round waits for all of them. */
  private roundEnds: string[] = [];

  constructor(
    private readonly spec: WorkflowSpec,
    private readonly workflow: string,
    private readonly rng: Rng,
  ) {
    for (const edge of spec.edges) {
      for (const agent of edgeSources(edge)) {
        const exits = this.exits.get(agent) ?? {};
        if (edge.kind === 'loop') exits.loop = edge;
        else exits.next = edge;
        this.exits.set(agent, exits);
      }
    }
  }

  /**
   * The instance's steps, every round from `start` until nothing is pending, in breadth-first order (a
   * step comes after every step it waits for). Returns the ids of the final round's last steps.
   */
  *steps(): Generator<WorkflowStep, string[]> {
    let previousEnds: string[] = [];
    for (let round = 0; round < this.spec.rounds; round++) {
      this.queue.push({ agent: this.spec.start, after: previousEnds });
      for (let index = 0; index < this.queue.length; index++) {
        const { agent, after } = this.queue[index]!;
        const id = `${this.workflow}:${round}:${index}:${agent}`;
        this.continueAfter(agent, id);
        yield { id, agent, after };
      }
      this.checkBarriersReleased(round);
      this.queue.length = 0;
      previousEnds = this.roundEnds;
      this.roundEnds = [];
    }
    return previousEnds;
  }

  /** Queues what follows a completed step: its loop while the loop goes on, else its other edge. */
  private continueAfter(agent: string, id: string): void {
    const { loop, next } = this.exits.get(agent) ?? {};
    if (loop !== undefined && this.repeats(loop)) {
      this.queue.push({ agent: loop.to, after: [id] });
      return;
    }
    switch (next?.kind) {
      case undefined:
        this.roundEnds.push(id);
        break;
      case 'chain':
        this.queue.push({ agent: next.to, after: [id] });
        break;
      case 'branch':
        this.queue.push({ agent: this.choose(next.to), after: [id] });
        break;
      case 'fanout':
        for (const target of next.to) this.queue.push({ agent: target, after: [id] });
        break;
      case 'join':
        this.arrive(next, agent, id);
        break;
    }
  }

  /** Whether the back edge is taken this time; a count loop that exits is reset for its next entry. */
  private repeats(loop: LoopEdge): boolean {
    if (loop.probability !== undefined) return this.rng.next() < loop.probability;
    const taken = this.loopsTaken.get(loop) ?? 0;
    if (taken < (loop.count ?? 0)) {
      this.loopsTaken.set(loop, taken + 1);
      return true;
    }
    this.loopsTaken.delete(loop);
    return false;
  }

  private choose(targets: Record<string, number>): string {
    const entries = Object.entries(targets);
    let draw = this.rng.next();
    for (const [agent, probability] of entries) {
      draw -= probability;
      if (draw < 0) return agent;
    }
    return entries[entries.length - 1]![0]; // rounding left a sliver above the sum
  }

  /** Records a member at the barrier; the target runs once every member arrived, after all of them. */
  private arrive(join: JoinEdge, agent: string, id: string): void {
    const arrived = this.arrivals.get(join) ?? new Map<string, string>();
    if (arrived.has(agent)) {
      throw this.joinError(join, `"${agent}" reached the join twice before ${this.describeMissing(join, arrived)} did`);
    }
    arrived.set(agent, id);
    if (arrived.size < join.from.length) {
      this.arrivals.set(join, arrived);
      return;
    }
    this.arrivals.delete(join);
    this.queue.push({ agent: join.to, after: join.from.map((member) => arrived.get(member)!) });
  }

  /** A barrier still holding members when the round has nothing left to run would wait forever. */
  private checkBarriersReleased(round: number): void {
    const stuck = this.arrivals.entries().next().value;
    if (stuck === undefined) return;
    const [join, arrived] = stuck;
    throw this.joinError(join, `in round ${round}, ${this.describeMissing(join, arrived)} never reached the join`);
  }

  private describeMissing(join: JoinEdge, arrived: Map<string, string>): string {
    return join.from
      .filter((member) => !arrived.has(member))
      .map((member) => `"${member}"`)
      .join(', ');
  }

  private joinError(join: JoinEdge, problem: string): InputError {
    return InputError.atPath(this.spec.name, `edges.${this.spec.edges.indexOf(join)}`, `${this.workflow}: ${problem}`);
  }
}

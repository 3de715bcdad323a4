/**
 * Expands a workflow spec into canonical trace requests (DESIGN.md section 3), deterministically from a
 * seed. Each instance runs its control flow (instance-run.ts); each step becomes one request whose
 * prompt is the agent's fixed prompt blocks followed by fresh blocks for its dynamic input.
 *
 * File order: instances are spread over lanes, one lane per concurrently running instance (closed
 * arrival: `concurrency` lanes, lane k running instances k, k + C, k + 2C, ... one after another;
 * Poisson arrival: one lane per instance). Lanes are interleaved round-robin, one request at a time,
 * which approximates concurrent execution and keeps every `after` id before the request naming it.
 */
import { InputError } from '../errors.js';
import type { TraceRequest } from '../types.js';
import { InstanceRun, type WorkflowStep } from './instance-run.js';
import { Rng } from './rng.js';
import type { WorkflowSpec } from './spec.js';

export interface GenerateOptions {
  seed: number;
  /** Generation stops with an InputError beyond this many requests (default 1e6). */
  maxRequests?: number;
}

export const DEFAULT_MAX_REQUESTS = 1_000_000;

export function generateRequests(spec: WorkflowSpec, options: GenerateOptions): TraceRequest[] {
  const maxRequests = options.maxRequests ?? DEFAULT_MAX_REQUESTS;
  const prompts = new PromptBlocks(spec);
  const arrivalTimes = instanceArrivalTimes(spec, new Rng(options.seed));
  const laneCount = spec.arrival.kind === 'closed' ? Math.min(spec.arrival.concurrency, spec.instances) : spec.instances;
  const lanes = Array.from({ length: laneCount }, (_, lane) => laneSteps(spec, lane, laneCount, options.seed, arrivalTimes));

  const requests: TraceRequest[] = [];
  let live = lanes;
  while (live.length > 0) {
    live = live.filter((lane) => {
      const next = lane.next();
      if (next.done) return false;
      if (requests.length === maxRequests) {
        throw InputError.atPath(spec.name, '', `generates more than ${maxRequests} requests; lower rounds, instances or loop probabilities`);
      }
      requests.push(toRequest(spec, next.value, prompts));
      return true;
    });
  }
  return requests;
}

/** A step plus how it is released: at a time (an instance's open-loop or initial arrival) or after others. */
interface ScheduledStep extends WorkflowStep {
  workflow: string;
  t?: number;
}

/** The steps of one lane's instances, each instance starting when the previous one in the lane ended. */
function* laneSteps(spec: WorkflowSpec, lane: number, laneCount: number, seed: number, arrivalTimes: number[]): Generator<ScheduledStep> {
  let previousEnds: string[] | undefined;
  for (let instance = lane; instance < spec.instances; instance += laneCount) {
    const workflow = `wf${instance}`;
    const steps = new InstanceRun(spec, workflow, new Rng(seed, instance + 1)).steps();
    const release = spec.arrival.kind === 'closed' && previousEnds !== undefined ? { after: previousEnds } : { t: arrivalTimes[instance]! };
    let next = steps.next();
    for (let first = true; !next.done; first = false, next = steps.next()) {
      yield first ? { ...next.value, workflow, ...release } : { ...next.value, workflow };
    }
    previousEnds = next.value;
  }
}

/** Poisson: cumulative exponential inter-arrival times; closed loop: the first lane-fulls start at 0. */
function instanceArrivalTimes(spec: WorkflowSpec, rng: Rng): number[] {
  const { arrival } = spec;
  if (arrival.kind === 'closed') return new Array<number>(spec.instances).fill(0);
  let time = 0;
  return Array.from({ length: spec.instances }, () => (time += rng.exponential(arrival.rate)));
}

function toRequest(spec: WorkflowSpec, step: ScheduledStep, prompts: PromptBlocks): TraceRequest {
  const agent = spec.agents[step.agent]!;
  const inputLength = agent.fixed + agent.dynamic;
  const fixed = prompts.fixedPrompt(step.agent, step.workflow);
  const dynamicBlocks = Math.ceil((inputLength - fixed.length * spec.blockSize) / spec.blockSize);
  const released = step.t !== undefined ? { t: step.t } : { after: step.after, ...(spec.think > 0 ? { think: spec.think } : {}) };
  return {
    id: step.id,
    ...released,
    workflow: step.workflow,
    agent: step.agent,
    blocks: [...fixed, ...prompts.fresh(dynamicBlocks)],
    blockSize: spec.blockSize,
    inputLength,
    outputLength: agent.output,
    fixedBlocks: fixed.length,
  };
}

/**
 * Block ids from one counter, in order of first use. An agent's fixed prompt is its full blocks of
 * `fixed` tokens (a partial last block belongs to the dynamic part, which differs per call), allocated
 * once per agent when agents are shared and once per (instance, agent) when they are private.
 */
class PromptBlocks {
  private nextId = 0;
  private readonly fixedPrompts = new Map<string, number[]>();

  constructor(private readonly spec: WorkflowSpec) {}

  fixedPrompt(agent: string, workflow: string): number[] {
    const key = this.spec.shareAgents ? agent : JSON.stringify([workflow, agent]);
    let blocks = this.fixedPrompts.get(key);
    if (blocks === undefined) {
      blocks = this.fresh(Math.floor(this.spec.agents[agent]!.fixed / this.spec.blockSize));
      this.fixedPrompts.set(key, blocks);
    }
    return blocks;
  }

  fresh(count: number): number[] {
    const first = this.nextId;
    this.nextId += count;
    return Array.from({ length: count }, (_, offset) => first + offset);
  }
}

/**
 * Runs emulated workflow instances against an OpenAI-compatible URL, closed loop: an instance's steps are
 * the spec's control flow (the same `InstanceRun` and seeds as the request generator, so `simulate` and
 * `emulate` run the same workflows), each sent as a real chat completion when its predecessors have
 * completed plus think time. A lane runs its instances one after another. Everything is measured on this
 * thread's clock and returned as raw samples, merged by the caller.
 */
import { Pool } from 'undici';
import { InstanceRun, type WorkflowStep } from '../workload/instance-run.js';
import { Rng } from '../workload/rng.js';
import type { WorkflowSpec } from '../workload/spec.js';
import { PromptText } from './prompt-text.js';

/** One worker's share of an emulation (structured-cloneable: it crosses into worker threads). */
export interface EmulateTask {
  url: string;
  model: string;
  spec: WorkflowSpec;
  seed: number;
  /** Each lane runs its instances (by number) one after another. */
  lanes: number[][];
  /** Epoch milliseconds after which no new step is sent; null runs every instance to the end. */
  deadline: number | null;
  /** Seconds between a step's predecessors completing and its request. */
  think: number;
  stream: boolean;
  requestTimeoutMs: number;
}

/** Raw measurements, times in epoch milliseconds (`performance.timeOrigin + performance.now()`). */
export interface EmulateSamples {
  /** Per successful request: send, first token, end, prompt tokens, cached tokens (-1: not reported), output tokens. */
  requests: number[][];
  /** Per completed instance: start and end. */
  workflows: [number, number][];
  incompleteWorkflows: number;
  errors: Record<string, number>;
  first: number;
  last: number;
}

export async function runEmulateTask(task: EmulateTask): Promise<EmulateSamples> {
  const origin = new URL(task.url);
  const basePath = origin.pathname.replace(/\/+$/, '');
  const concurrency = task.lanes.length * Math.max(1, maxParallelSteps(task.spec));
  const pool = new Pool(origin.origin, { connections: Math.max(1, concurrency), headersTimeout: task.requestTimeoutMs, bodyTimeout: task.requestTimeoutMs });
  const samples: EmulateSamples = { requests: [], workflows: [], incompleteWorkflows: 0, errors: {}, first: Infinity, last: 0 };
  const prompts = new PromptText(task.seed);
  const client = { task, pool, basePath, prompts, samples };
  try {
    await Promise.all(task.lanes.map((instances) => runLane(client, instances)));
  } finally {
    await pool.close();
  }
  return samples;
}

interface Client {
  task: EmulateTask;
  pool: Pool;
  basePath: string;
  prompts: PromptText;
  samples: EmulateSamples;
}

const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function runLane(client: Client, instances: number[]): Promise<void> {
  let first = true;
  for (const instance of instances) {
    if (!first && client.task.think > 0) await sleep(client.task.think * 1000);
    first = false;
    if (client.task.deadline !== null && now() >= client.task.deadline) return;
    await runInstance(client, instance);
  }
}

/** Runs one instance's step DAG; records its latency when every step completed. */
async function runInstance(client: Client, instance: number): Promise<void> {
  const { spec, seed, think, deadline } = client.task;
  const workflow = `wf${instance}`;
  const steps = collectSteps(new InstanceRun(spec, workflow, new Rng(seed, instance + 1)).steps());
  const done = new Map<string, Promise<boolean>>();
  const started = now();
  let complete = true;
  const run = async (step: WorkflowStep): Promise<boolean> => {
    const predecessors = await Promise.all(step.after.map((id) => done.get(id)!));
    if (predecessors.some((ok) => !ok)) return false;
    if (step.after.length > 0 && think > 0) await sleep(think * 1000);
    if (deadline !== null && now() >= deadline) return false;
    return sendStep(client, workflow, step);
  };
  for (const step of steps) done.set(step.id, run(step)); // steps come after all their predecessors
  for (const ok of await Promise.all(done.values())) complete &&= ok;
  if (complete) client.samples.workflows.push([started, now()]);
  else client.samples.incompleteWorkflows++;
}

function collectSteps(generator: Generator<WorkflowStep, string[]>): WorkflowStep[] {
  const steps: WorkflowStep[] = [];
  for (let next = generator.next(); !next.done; next = generator.next()) steps.push(next.value);
  return steps;
}

/** Sends one step as a chat completion; true when it completed. */
async function sendStep(client: Client, workflow: string, step: WorkflowStep): Promise<boolean> {
  const { task, samples } = client;
  const agent = task.spec.agents[step.agent]!;
  const body = {
    model: task.model,
    max_tokens: Math.max(1, agent.output),
    stream: task.stream,
    ...(task.stream && { stream_options: { include_usage: true } }),
    messages: [
      { role: 'system', content: client.prompts.fixed(step.agent, agent.fixed, task.spec.shareAgents ? undefined : workflow) },
      { role: 'user', content: client.prompts.dynamic(step.id, agent.dynamic) },
    ],
  };
  const sent = now();
  samples.first = Math.min(samples.first, sent);
  try {
    const response = await client.pool.request({
      method: 'POST',
      path: `${client.basePath}/v1/chat/completions`,
      headers: {
        'content-type': 'application/json',
        'x-kvflow-workflow': workflow,
        'x-kvflow-agent': step.agent,
        'x-kvflow-step': step.id,
        'x-kvflow-spec': task.spec.name,
      },
      body: JSON.stringify(body),
    });
    if (response.statusCode !== 200) {
      await response.body.dump();
      return fail(samples, `http_${response.statusCode}`);
    }
    const reading = task.stream ? await readStream(response.body) : await readJson(response.body);
    if (reading.error) return fail(samples, reading.error);
    const end = now();
    samples.last = Math.max(samples.last, end);
    const usage = reading.usage;
    samples.requests.push([
      sent,
      reading.firstToken ?? end,
      end,
      usage?.prompt_tokens ?? 0,
      usage?.prompt_tokens_details?.cached_tokens ?? -1,
      usage?.completion_tokens ?? agent.output,
    ]);
    return true;
  } catch (error) {
    return fail(samples, errorKind(error));
  }
}

interface Usage {
  prompt_tokens?: number;
  completion_tokens?: number;
  prompt_tokens_details?: { cached_tokens?: number } | null;
}

interface Reading {
  firstToken?: number;
  usage?: Usage;
  error?: string;
}

async function readJson(body: AsyncIterable<Buffer>): Promise<Reading> {
  let text = '';
  for await (const chunk of body) text += chunk.toString('utf8');
  try {
    const parsed = JSON.parse(text) as { usage?: Usage };
    return parsed.usage ? { usage: parsed.usage } : {};
  } catch {
    return { error: 'bad_json' };
  }
}

/** Reads an OpenAI SSE stream: the first content chunk is the first token; usage comes last. */
async function readStream(body: AsyncIterable<Buffer>): Promise<Reading> {
  const reading: Reading = {};
  let buffer = '';
  let finished = false;
  for await (const chunk of body) {
    buffer += chunk.toString('utf8');
    let boundary: number;
    while ((boundary = buffer.indexOf('\n\n')) >= 0) {
      const event = buffer.slice(0, boundary);
      buffer = buffer.slice(boundary + 2);
      if (!event.startsWith('data: ')) continue;
      const data = event.slice(6);
      if (data === '[DONE]') {
        finished = true;
        continue;
      }
      let parsed: { choices?: { delta?: { content?: string }; text?: string }[]; usage?: Usage; error?: unknown };
      try {
        parsed = JSON.parse(data);
      } catch {
        return { error: 'bad_stream' };
      }
      if (parsed.error) return { error: 'stream_error' };
      if (reading.firstToken === undefined && parsed.choices?.some((c) => (c.delta?.content ?? c.text ?? '') !== '')) reading.firstToken = now();
      if (parsed.usage) reading.usage = parsed.usage;
    }
  }
  return finished ? reading : { error: 'stream_cut' };
}

function fail(samples: EmulateSamples, kind: string): false {
  samples.errors[kind] = (samples.errors[kind] ?? 0) + 1;
  return false;
}

function errorKind(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : 'network';
}

/** Most steps of one instance that can run at once (fan-out width), to size the connection pool. */
function maxParallelSteps(spec: WorkflowSpec): number {
  let widest = 1;
  for (const edge of spec.edges) if (edge.kind === 'fanout') widest = Math.max(widest, edge.to.length);
  return widest;
}

/**
 * STE cost per request in long workflows: replays of chain workflows with 10, 17, 1,000 and
 * 100,000 agents, each 100,000 requests long (one instance, private agents, ste eviction fed by the
 * declared graph with the gateway's bounded search, `STE_HORIZON`: replay and simulate keep exact STE),
 * in CPU microseconds per request, beside lru replays of the same requests (the cache's
 * own cost, which grows with the number of distinct prompts), and the ratios to the 10-agent chain in
 * the same run. Each total is split into the cache's own work (the lru replay), the ste policy's order
 * without STE values (the same policy with no STE source: LRU order through its priority heap, which a
 * long chain, whose fixed prompts all miss, works harder) and the part STE values add (search, change
 * log, apply and re-keys), with the STE source fed the same events alone, without a cache. Before the STE search was bounded (src/graph/relax.ts), a 40k-agent chain took 83 s.
 * The 17-agent chain separates the two parts of a long chain's extra cost: it has every agent within the
 * horizon, so it does all the per-step work of a longer chain within reach, and what a longer chain costs
 * beyond it is the graph's size. STE values are absolute, so after each request every agent within the
 * horizon is one step nearer: `STE_HORIZON` + 2 absolute values change per request in a long chain, 11 in a
 * 10-agent chain. Private agents' values are kept relative to a clock per instance (src/graph/ste-clock.ts):
 * the ste policy then sees one clock move and the values entering or leaving reach (about 2 per request in
 * a long chain, 1 in a 10-agent one), not every absolute value. An end searches nothing: it changes only
 * the ended agent's value (src/graph/progress.ts); nor does a begin that is a chain step from a walk (a
 * chain of 17 agents or more): it shifts the values (progress.ts `#shift`). The 10-agent chain, whose path
 * comes back within the horizon, searches on each begin. The tracker settles a shift as one offset
 * increment (tracker.ts `settleShift`). Still O(agents within reach) per event: the progress's shift and the
 * absolute side of the change log, which consumers that read absolute values (the prefetcher, the
 * gateway's diffs) are handed; and a long chain brings a new
 * `instance/agent` key into the tables at every step. The lru replays show the cache's own part, which no
 * STE design removes: a long chain's fixed prompts all miss.
 * Beside the target (which stays the whole replay's cost), each line prints the like-with-like split: the
 * cache's own work on its misses (the lru replay's ratio, with the pages evicted per request) and the rest.
 * The step graph is built once per workflow, outside the timed replays (printed beside them).
 * Also: validating a 100,000-agent chain spec.
 */
import { policyFactory } from '../src/cache/policy-registry.js';
import { AgentStepGraph } from '../src/graph/graph.js';
import { ClockedSteChanges } from '../src/graph/ste-clock.js';
import { STE_HORIZON } from '../src/graph/tracker.js';
import { WorkflowSte } from '../src/graph/workflow-ste.js';
import { replayTrace } from '../src/replay/replay.js';
import { generateRequests } from '../src/workload/generate.js';
import { parseWorkflowSpec, type WorkflowSpec } from '../src/workload/spec.js';
import { GLOBAL_SESSION, type TraceRequest } from '../src/types.js';
import { median, ms } from './measure.js';
import type { BenchLine } from './replay.js';

const REQUESTS = 100_000;
/** 17 agents: the most a chain can have with every agent within the horizon, so each step moves as many STE values as in a longer chain. */
const CHAINS = [10, STE_HORIZON + 1, 1_000, 100_000];
const RUNS = 3;

export async function benchSte(): Promise<BenchLine[]> {
  const lines: BenchLine[] = [];
  const cases = CHAINS.map((agents) => {
    const spec = chainSpec(agents, Math.ceil(REQUESTS / agents));
    // The step graph is built once per workflow, not per request: timed on its own, outside the replays.
    let graph!: AgentStepGraph;
    const build = cpuSeconds(() => (graph = AgentStepGraph.fromSpec(spec)));
    const requests = generateRequests(spec, { seed: 1 }).slice(0, REQUESTS);
    return { agents, spec, graph, build, requests, evictions: 0, ste: [] as number[], lru: [] as number[], order: [] as number[], source: [] as number[] };
  });
  // Interleaved: each run replays every chain with each policy, so a change in machine load hits all.
  for (let run = 0; run <= RUNS; run++) {
    for (const item of cases) {
      const { spec, graph, requests } = item;
      const replay = (policy: 'ste' | 'lru', withSte: boolean) =>
        cpuSeconds(() => {
          const result = replayTrace(requests, {
            policy: policyFactory(policy),
            capacityTokens: 2 ** 18,
            blockSize: spec.blockSize,
            ...(withSte && { ste: new WorkflowSte(graph, { shareAgents: false, horizon: STE_HORIZON }) }),
          });
          if (policy === 'lru') item.evictions = result.evictions;
        });
      const ste = replay('ste', true);
      const lru = replay('lru', false);
      // The ste policy with no STE source orders pages by last access through its priority heap: the
      // policy's own work on these requests, which STE values do not cause.
      const order = replay('ste', false);
      const source = cpuSeconds(() => feedSource(graph, requests));
      if (run === 0) continue; // warm-up
      item.ste.push(ste / REQUESTS);
      item.lru.push(lru / REQUESTS);
      item.order.push(order / REQUESTS);
      item.source.push(source / REQUESTS);
    }
  }
  const us = (seconds: number) => `${(seconds * 1e6).toFixed(2)} us`;
  const first = cases[0]!;
  const steShare = (item: (typeof cases)[number]) => Math.max(0, median(item.ste) - median(item.lru));
  // What STE values cost beyond the same replay's cache and policy work: the search, the change log, the policy's apply and re-keys.
  const stePart = (item: (typeof cases)[number]) => Math.max(0, median(item.ste) - median(item.order));
  // The 17-agent chain changes as many STE values per request as any longer one: what a longer chain costs
  // beyond it is the graph's size; what it costs beyond the 10-agent chain comes from absolute values (every
  // agent within the horizon moves one step nearer on each request).
  const full = cases[1]!;
  const counts = new Map(cases.map((item) => [item, changedPerRequest(item.spec)]));
  const changed = new Map(cases.map((item) => [item, counts.get(item)!.absolute]));
  for (const item of cases) {
    const x = (a: number, b: number) => `${(a / b).toFixed(2)}x`;
    const toFirst = x(median(item.ste), median(first.ste));
    const values = `${changed.get(item)!.toFixed(0)} vs ${changed.get(first)!.toFixed(0)} STE values changed per request`;
    const ratio =
      item === first
        ? ''
        : item === full
          ? `; all of it from the work within reach (${values}: ${x(changed.get(item)!, changed.get(first)!)}; relative to the instance's clock ${relativeText(counts.get(item)!)} vs ${relativeText(counts.get(first)!)})`
          : `; = ${x(median(full.ste), median(first.ste))} from the work within reach (the ${full.agents}-agent chain: ${values}) x ${x(median(item.ste), median(full.ste))} for the graph's size`;
    const parts = `${us(median(item.lru))} the cache (lru replay) + ${us(Math.max(0, median(item.order) - median(item.lru)))} the ste policy's order without STE values + ${us(stePart(item))} STE values (the STE source alone: ${us(median(item.source))})`;
    const steRatio = `the STE values' part ${x(stePart(item), stePart(first))}, the STE source alone ${x(median(item.source), median(first.source))}`;
    // Like with like: a long chain's fixed prompts all miss, so its cache inserts and evicts pages a short
    // chain's hits never do (the lru replay's cost: no STE design removes it). Shown beside the target, not
    // taken out of it.
    const evicted = (item.evictions / REQUESTS).toFixed(1);
    const likeWithLike = `; the cache's own work on its misses (lru replay, ${evicted} vs ${(first.evictions / REQUESTS).toFixed(1)} pages evicted per request) ${x(median(item.lru), median(first.lru))}, the rest (ste minus lru replay) ${x(steShare(item), steShare(first))}`;
    lines.push({
      name: `ste replay, ${item.agents.toLocaleString('en-US')}-agent chain`,
      value: `${us(median(item.ste))} CPU per request (${us(steShare(item))} beyond the lru replay) = ${parts}, ${changed.get(item)!.toFixed(1)} absolute STE values changed per request (${relativeText(counts.get(item)!)} relative to the instance's clock); step graph built once in ${(item.build * 1e3).toFixed(0)} ms`,
      ...(item !== first && {
        target: `the 10-agent chain's cost per request (<= 1.10x): ${toFirst} the 10-agent chain (${steRatio}${likeWithLike})${ratio}`,
      }),
      baseline: `lru replay of the same ${REQUESTS.toLocaleString('en-US')} requests: ${us(median(item.lru))} per request (median of ${RUNS} interleaved runs)`,
    });
  }
  // Validation from the file's text: JSON.parse, then the shape and control-flow checks (spec-fast-path.ts, spec-rules.ts).
  const text = JSON.stringify(chainDocument(100_000, 1));
  const parse: number[] = [];
  const validate: number[] = [];
  for (let run = 0; run <= RUNS; run++) {
    let document: unknown;
    const parsed = cpuSeconds(() => (document = JSON.parse(text)));
    const validated = cpuSeconds(() => parseWorkflowSpec(document, 'bench'));
    if (run === 0) continue;
    parse.push(parsed);
    validate.push(validated);
  }
  lines.push({
    name: 'validate a 100,000-agent chain spec',
    value: `${ms(median(validate))} CPU (median of ${RUNS}), ${ms(median(parse) + median(validate))} with JSON.parse of its ${(text.length / 1e6).toFixed(1)} MB`,
    target: '< 1 s',
    baseline: `JSON.parse alone: ${ms(median(parse))}`,
  });
  return lines;
}

/**
 * STE values one request (a begin and an end) changes, stepping once round the chain: absolute values
 * (every agent within the horizon moves by one: a chain of more than `STE_HORIZON` agents changes
 * `STE_HORIZON` + 2, a 10-agent chain 11), and what the ste policy applies (values relative to the
 * instance's clock, and clock moves).
 */
function changedPerRequest(spec: WorkflowSpec): { absolute: number; relative: number; moves: number } {
  const ste = new WorkflowSte(AgentStepGraph.fromSpec(spec), { shareAgents: false, horizon: STE_HORIZON });
  const agents = Object.keys(spec.agents);
  const steps = Math.min(agents.length, 1_000);
  let absolute = 0;
  let relative = 0;
  let moves = 0;
  for (let step = 0; step < steps; step++) {
    for (const event of ['begin', 'end'] as const) {
      ste[event]('bench', agents[step]!);
      const changes = ste.takeChanges();
      absolute += changes.size;
      if (changes instanceof ClockedSteChanges) {
        relative += changes.relative.keys.length;
        moves += changes.moves.moved.filter(Boolean).length;
      }
    }
  }
  return { absolute: absolute / steps, relative: relative / steps, moves: moves / steps };
}

/** What the ste replay's STE source does, without a cache: each request's begin, the take of its changes, its tag key and its end. */
function feedSource(graph: AgentStepGraph, requests: readonly TraceRequest[]): void {
  const ste = new WorkflowSte(graph, { shareAgents: false, horizon: STE_HORIZON });
  for (const request of requests) {
    const instance = request.workflow ?? GLOBAL_SESSION;
    ste.begin(instance, request.agent!);
    ste.takeChanges();
    ste.tagKey(instance, request.agent!);
    ste.end(instance, request.agent!);
  }
}

function relativeText(counts: { relative: number; moves: number }): string {
  return `${counts.relative.toFixed(1)} values + ${counts.moves.toFixed(1)} clock moves`;
}

/** A chain a0 -> a1 -> ... of `agents` agents with small private prompts, repeated `rounds` times. */
function chainSpec(agents: number, rounds: number) {
  return parseWorkflowSpec(chainDocument(agents, rounds), 'bench');
}

function chainDocument(agents: number, rounds: number) {
  const names = Array.from({ length: agents }, (_, i) => `a${i}`);
  return {
    name: `chain-${agents}`,
    blockSize: 16,
    agents: Object.fromEntries(names.map((name) => [name, { fixed: 64, dynamic: 16, output: 1 }])),
    edges: names.slice(1).map((name, i) => ({ from: names[i], to: name })),
    start: 'a0',
    rounds,
    shareAgents: false,
    instances: 1,
    arrival: { kind: 'closed', concurrency: 1 },
  };
}

/** CPU seconds (user + system) of one call. */
function cpuSeconds(body: () => void): number {
  const before = process.cpuUsage();
  body();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1e6;
}

import { Option, type Command } from 'commander';
import { writeFile } from 'node:fs/promises';
import { formatTokenCount } from '../report/table.js';
import { replaySuite, type ReplayReport } from '../replay/replay-suite.js';
import { NeedsSortError, replayStream } from '../replay/replay-stream.js';
import { replayOrder } from '../workload/request-order.js';
import { annotateStream, chooseGraph, GRAPH_SOURCES, requestsFor, type GraphChoice, type GraphSource } from '../config/graph-source.js';
import { POLICY_NAMES, type ReadTraceOptions, } from '../types.js';
import type { PolicyFactory } from '../cache/policy.js';
import { policyListHelp, resolvePolicies } from '../config/policy-spec.js';
import { readTrace, streamTrace, type TraceStats } from '../workload/trace.js';
import { estimateLineCount } from '../workload/estimate.js';
import { InputError } from '../errors.js';
import { renderExplainTable, renderReplayTable } from '../report/replay-table.js';
import { explainReplay } from '../replay/explain.js';
import { computeNextUse } from '../cache/next-use.js';
import { createProgress } from '../report/progress.js';
import { parseInteger, parseName, parseSessionsStartFlag, parseTokenCountList } from './flags.js';
import { retimeSessions, SESSIONS_START_HELP, sessionsStartName, type SessionsStart } from '../workload/sessions-start.js';
import { FORMAT_CHOICES } from '../workload/read.js';
import { emit, runCommand } from './run.js';
import { loadSteSource } from '../config/workload-input.js';

/** Policies replayed when --policy is not given: the learned `reuse` trains a model, so it is asked for by name. */
const DEFAULT_POLICIES: string[] = POLICY_NAMES.filter((name) => name !== 'reuse');

interface ReplayFlags {
  trace: string;
  format: (typeof FORMAT_CHOICES)[number];
  blockSize?: number;
  capacity: (number | null)[];
  policy: string[];
  workflow?: string;
  graph?: GraphSource;
  skipInvalid?: boolean;
  explain?: boolean;
  tokenizer?: string;
  sessionsStart?: SessionsStart;
  seed: number;
  json?: boolean;
  report?: string;
}

export function registerReplay(program: Command): void {
  program
    .command('replay')
    .description('cache-only replay of a trace: hit rate per eviction policy and capacity (DESIGN.md section 4)')
    .requiredOption('--trace <file>', 'trace file (kvflow JSONL or Mooncake JSONL)')
    .option('--format <format>', `trace format: ${FORMAT_CHOICES.join(' | ')}`, (v) => parseName(v, FORMAT_CHOICES), 'auto')
    .option('--block-size <n>', 'tokens per block for lines that give none (kvflow default 16)', (v) => parseInteger(v, 1))
    .addOption(
      new Option('--capacity <list>', 'GPU capacities in tokens, comma list; k/M/G are powers of 2; inf = unbounded')
        .argParser(parseTokenCountList)
        .default(parseTokenCountList('1M,16M,inf'), '1M,16M,inf'),
    )
    .addOption(
      new Option('--policy <list>', `eviction policies: ${policyListHelp()}`)
        .argParser((v) => v.split(','))
        .default(DEFAULT_POLICIES, DEFAULT_POLICIES.join(',')),
    )
    .option('--workflow <spec>', 'workflow spec whose step graph gives STE values to the ste policy')
    .option('--graph <source>', 'where ste gets its step graph: declared (--workflow), learned (online, from the trace itself), none; default: declared with --workflow, else none', (v) => parseName(v, GRAPH_SOURCES))
    .option('--skip-invalid', 'skip and count invalid trace lines instead of stopping at the first')
    .option('--tokenizer <name>', 'tokenizer of text traces (lmcache): a model preset (Llama-3.1-8B, Llama-3.1-70B, Qwen2.5-32B), a tokenizer.json path, or cl100k_base (default Llama-3.1-8B)')
    .option('--sessions-start <mode>', `re-time sessions, each keeping its own gaps and order: ${SESSIONS_START_HELP} (docs/sessions-start.md)`, parseSessionsStartFlag)
    .option('--seed <n>', 'seed for --sessions-start poisson', (v) => parseInteger(v, 0), 1)
    .option('--explain', "attribute each policy's misses to its eviction decisions against Belady, per session and agent (docs/replay-explain.md)")
    .option('--json', 'print one JSON document on stdout')
    .option('--report <file.html>', 'also write a self-contained HTML report: hit rate against capacity per policy, evictions')
    .action((flags: ReplayFlags) => runCommand(() => replayCommand(flags)));
}

async function replayCommand(flags: ReplayFlags): Promise<void> {
  const graph = chooseGraph(flags.graph, {
    // The spec is read only when its graph is used.
    ...(flags.workflow !== undefined && (flags.graph ?? 'declared') === 'declared' && { declared: await loadSteSource(flags.workflow) }),
    learnsAgents: flags.policy.includes('ste-learned'),
    where: '--graph',
    needs: '--workflow SPEC',
  });
  const policies = (await resolvePolicies(flags.policy, { where: '--policy' })).map((choice) => choice.create);
  const readOptions = {
    format: flags.format,
    ...(flags.blockSize !== undefined && { blockSize: flags.blockSize }),
    skipInvalid: flags.skipInvalid ?? false,
    ...(flags.tokenizer !== undefined && { tokenizer: flags.tokenizer }),
  };
  const quiet = flags.json ?? false;
  let report: ReplayReport;
  let skipped: number;
  if (graph.source === 'declared' || flags.sessionsStart || flags.explain) {
    // A declared graph is told when each workflow ends, re-timing sorts the whole trace, and --explain
    // compares every policy with Belady request by request: all need it in memory.
    ({ report, skipped } = await replayInMemory(flags, policies, readOptions, graph, quiet));
  } else {
    try {
      ({ report, skipped } = await replayInOnePass(flags, policies, readOptions, graph, quiet));
    } catch (error) {
      if (!(error instanceof NeedsSortError)) throw error;
      ({ report, skipped } = await replayInMemory(flags, policies, readOptions, graph, quiet));
    }
  }
  if (flags.skipInvalid) Object.assign(report.trace, { skippedLines: skipped });
  if (flags.sessionsStart) report.trace.sessionsStart = sessionsStartName(flags.sessionsStart);
  if (flags.report !== undefined) {
    const { renderReplayHtml } = await import('../report/replay-html.js');
    await writeFile(flags.report, await renderReplayHtml(report, { policies: flags.policy, capacities: flags.capacity.map(formatTokenCount), graph: graph.source }));
  }
  const table = renderReplayTable(report) + (report.explain ? `\n${renderExplainTable(report.explain)}` : '');
  emit(flags.json ? JSON.stringify(report) : flags.report ? `${table}\nreport: ${flags.report}` : table);
}

/**
 * The usual path: one streaming pass, memory bounded by the caches (plus 4 bytes per page reference
 * when Belady runs). With a learned graph each request gets its agent from the requests before it.
 */
async function replayInOnePass(
  flags: ReplayFlags,
  policies: PolicyFactory[],
  readOptions: ReadTraceOptions,
  graph: GraphChoice,
  quiet: boolean,
): Promise<{ report: ReplayReport; skipped: number }> {
  const stats: TraceStats = { format: undefined, skipped: 0 };
  const stream = streamTrace(flags.trace, { ...readOptions, stats });
  const requests = graph.annotate ? annotateStream(stream) : stream;
  const progress = createProgress('replay', await estimateLineCount(flags.trace), { quiet });
  try {
    const report = await replayStream(flags.trace, requests, {
      policies,
      capacities: flags.capacity,
      ...(graph.steSource && { steSource: graph.steSource }),
      onProgress: (done) => progress.update(done),
    });
    return { report, skipped: stats.skipped };
  } finally {
    progress.stop();
  }
}

/** The whole trace in memory: needed for a declared graph and for traces whose `t` is out of order. */
async function replayInMemory(
  flags: ReplayFlags,
  policies: PolicyFactory[],
  readOptions: ReadTraceOptions,
  graph: GraphChoice,
  quiet: boolean,
): Promise<{ report: ReplayReport; skipped: number }> {
  const { steSource } = graph;
  const read = await readTrace(flags.trace, readOptions);
  const timed = flags.sessionsStart ? { ...read, requests: retimeSessions(read.requests, flags.sessionsStart, flags.seed) } : read;
  const trace = { ...timed, requests: requestsFor(graph, timed.requests) };
  const runs = flags.capacity.length * policies.length;
  const progress = createProgress('replay', runs * trace.requests.length, { quiet });
  try {
    const report = replaySuite(trace, {
      policies,
      capacities: flags.capacity,
      ...(steSource && { steSource }),
      onProgress: (done) => progress.update(done),
    });
    if (flags.explain) {
      const ordered = replayOrder(trace.requests);
      report.explain = explainReplay(ordered, {
        policies,
        capacities: flags.capacity,
        blockSize: ordered[0]!.blockSize,
        nextUse: computeNextUse(ordered),
        ...(steSource && { steSource }),
      });
    }
    return { report, skipped: read.skipped };
  } finally {
    progress.stop();
  }
}

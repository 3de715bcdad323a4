/**
 * What `kvflow replay` does with its flags (registered with commander in replay.ts). Imports no commander:
 * the usual command line runs without it (fast-flags.ts).
 */
import { writeFile } from 'node:fs/promises';
import { formatTokenCount } from '../report/table.js';
import type { ReplayReport } from '../replay/replay-suite.js';
import { NeedsSortError, replayStream } from '../replay/replay-stream.js';
import { replayOrder } from '../workload/request-order.js';
import { annotateStream, chooseGraph, requestsFor, type GraphChoice } from '../config/graph-source.js';
import type { ReadTraceOptions } from '../types.js';
import type { PolicyFactory } from '../cache/policy.js';
import { resolvePolicies } from '../config/policy-spec.js';
import { readTrace, streamTrace, streamTraceBatches, type TraceStats } from '../workload/read.js';
import { renderExplainTable, renderReplayTable } from '../report/replay-table.js';
import { computeNextUse } from '../cache/next-use.js';
import { createProgress, progressShown } from '../report/progress.js';
import { describeReplayInput, replayedRequests } from '../config/replay-input.js';
import type { FORMAT_CHOICES } from '../workload/read.js';
import { emit } from './run.js';
import type { ReplaySettings } from '../config/replay-fields.js';
import type { FlagOption } from './fast-flags.js';

/** The run's settings (config/replay-fields.ts; trace, capacity and policy always set), then the rest. */
export interface ReplayFlags extends ReplaySettings {
  trace: string;
  format: (typeof FORMAT_CHOICES)[number];
  capacity: (number | null)[];
  policy: string[];
  explain?: boolean;
  seed: number;
  json?: boolean;
  report?: string;
}

/** The flags beyond the run's settings (REPLAY_FIELDS): what to print and what else to work out. */
export const REPLAY_OUTPUT_OPTIONS: readonly FlagOption[] = [
  { flag: '--explain', description: "attribute each policy's misses to its eviction decisions against Belady, per session and agent (docs/replay-explain.md)" },
  { flag: '--json', description: 'print one JSON document on stdout' },
  { flag: '--report <file.html>', description: 'also write a self-contained HTML report: hit rate against capacity per policy, evictions' },
];

export async function replayCommand(flags: ReplayFlags): Promise<void> {
  const graph = await chooseGraph(flags.graph, {
    // The spec is read only when its graph is used.
    ...(flags.workflow !== undefined &&
      (flags.graph ?? 'declared') === 'declared' && { declared: await (await import('../config/workload-input.js')).loadSteSource(flags.workflow) }),
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
  const plan: ReplayPlan = { flags, policies, readOptions, graph, quiet: flags.json ?? false };
  let report: ReplayReport;
  let skipped: number;
  if (graph.source === 'declared' || flags.sessionsStart || flags.explain) {
    // A declared graph is told when each workflow ends, re-timing sorts the whole trace, and --explain
    // compares every policy with Belady request by request: all need it in memory.
    ({ report, skipped } = await replayInMemory(plan));
  } else {
    try {
      ({ report, skipped } = await replayInOnePass(plan));
    } catch (error) {
      if (!(error instanceof NeedsSortError)) throw error;
      ({ report, skipped } = await replayInMemory(plan));
    }
  }
  describeReplayInput(report, flags, skipped);
  if (flags.report !== undefined) {
    const { renderReplayHtml } = await import('../report/replay-html.js');
    await writeFile(flags.report, await renderReplayHtml(report, { policies: flags.policy, capacities: flags.capacity.map(formatTokenCount), graph: graph.source }));
  }
  if (flags.json) {
    // The table is never drawn for --json (the usual table is drawn without cli-table3 anyway: report/table.ts).
    emit(JSON.stringify(report));
    return;
  }
  const table = renderReplayTable(report) + (report.explain ? `\n${renderExplainTable(report.explain)}` : '');
  emit(flags.report ? `${table}\nreport: ${flags.report}` : table);
}

/** What both replay paths take: flags, policy factories, read options, graph, and whether to stay quiet. */
interface ReplayPlan {
  flags: ReplayFlags;
  policies: PolicyFactory[];
  readOptions: ReadTraceOptions;
  graph: GraphChoice;
  quiet: boolean;
}

/**
 * The usual path: one streaming pass, memory bounded by the caches (plus 4 bytes per page reference
 * when Belady runs). With a learned graph each request gets its agent from the requests before it.
 */
async function replayInOnePass({ flags, policies, readOptions, graph, quiet }: ReplayPlan): Promise<{ report: ReplayReport; skipped: number }> {
  const stats: TraceStats = { format: undefined, skipped: 0 };
  // Agents are inferred request by request; otherwise a chunk of the file at a time (one await per chunk).
  const requests = graph.annotator ? annotateStream(graph.annotator, streamTrace(flags.trace, { ...readOptions, stats })) : streamTraceBatches(flags.trace, { ...readOptions, stats });
  // The estimate (and its module) only for a progress bar that is drawn.
  const progress = createProgress('replay', progressShown(quiet) ? await (await import('../workload/estimate.js')).estimateLineCount(flags.trace) : 0, { quiet });
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
async function replayInMemory({ flags, policies, readOptions, graph, quiet }: ReplayPlan): Promise<{ report: ReplayReport; skipped: number }> {
  const { steSource } = graph;
  // Loaded here: the usual replay streams (replayInOnePass) and needs none of it.
  const { replaySuite } = await import('../replay/replay-suite.js');
  const read = await readTrace(flags.trace, readOptions);
  const trace = { ...read, requests: requestsFor(graph, replayedRequests(read.requests, flags)) };
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
      const { explainReplay } = await import('../replay/explain.js');
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

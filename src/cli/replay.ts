import { Option, type Command } from 'commander';
import { replaySuite } from '../cache/replay-suite.js';
import { POLICY_NAMES, type PolicyName, type SteSource } from '../types.js';
import { readTrace } from '../workload/trace.js';
import { InputError } from '../errors.js';
import { AgentAnnotator, OnlineGraphLearner } from '../graph/learner.js';
import { renderReplayTable } from '../report/replay-table.js';
import { createProgress } from '../report/progress.js';
import { parseInteger, parseName, parseNameList, parseTokenCountList } from './flags.js';
import { emit, runCommand } from './run.js';

import { GRAPH_SOURCES, loadSteSource } from './workload-input.js';

interface ReplayFlags {
  trace: string;
  format: 'auto' | 'kvflow' | 'mooncake';
  blockSize?: number;
  capacity: (number | null)[];
  policy: PolicyName[];
  workflow?: string;
  graph?: 'declared' | 'learned' | 'none';
  skipInvalid?: boolean;
  json?: boolean;
}

export function registerReplay(program: Command): void {
  program
    .command('replay')
    .description('cache-only replay of a trace: hit rate per eviction policy and capacity (DESIGN.md section 4)')
    .requiredOption('--trace <file>', 'trace file (kvflow JSONL or Mooncake JSONL)')
    .option('--format <format>', 'auto | kvflow | mooncake', (v) => parseName(v, ['auto', 'kvflow', 'mooncake'] as const), 'auto')
    .option('--block-size <n>', 'tokens per block for lines that give none (kvflow default 16)', (v) => parseInteger(v, 1))
    .addOption(
      new Option('--capacity <list>', 'GPU capacities in tokens, comma list; k/M/G are powers of 2; inf = unbounded')
        .argParser(parseTokenCountList)
        .default(parseTokenCountList('1M,16M,inf'), '1M,16M,inf'),
    )
    .addOption(
      new Option('--policy <list>', `eviction policies, comma list of ${POLICY_NAMES.join(', ')}`)
        .argParser((v) => parseNameList(v, POLICY_NAMES))
        .default([...POLICY_NAMES], POLICY_NAMES.join(',')),
    )
    .option('--workflow <spec>', 'workflow spec whose step graph gives STE values to the ste policy')
    .option('--graph <source>', 'where ste gets its step graph: declared (--workflow), learned (online, from the trace itself), none; default: declared with --workflow, else none', (v) => parseName(v, GRAPH_SOURCES))
    .option('--skip-invalid', 'skip and count invalid trace lines instead of stopping at the first')
    .option('--json', 'print one JSON document on stdout')
    .action((flags: ReplayFlags) => runCommand(() => replayCommand(flags)));
}

async function replayCommand(flags: ReplayFlags): Promise<void> {
  const graph = flags.graph ?? (flags.workflow ? 'declared' : 'none');
  if (graph === 'declared' && !flags.workflow) throw InputError.flag('--graph', 'declared needs --workflow SPEC');
  const declared = graph === 'declared' ? await loadSteSource(flags.workflow!) : undefined;
  const read = await readTrace(flags.trace, {
    format: flags.format,
    ...(flags.blockSize !== undefined && { blockSize: flags.blockSize }),
    skipInvalid: flags.skipInvalid ?? false,
  });
  // A learned graph needs agents: each request gets one from the requests before it (causal).
  const trace = graph === 'learned' ? { ...read, requests: new AgentAnnotator().annotateAll(read.requests) } : read;
  const steSource: (() => SteSource) | undefined = graph === 'learned' ? () => new OnlineGraphLearner() : declared;
  const runs = flags.capacity.length * flags.policy.length;
  const progress = createProgress('replay', runs * trace.requests.length, { quiet: flags.json ?? false });
  const report = replaySuite(trace, {
    policies: flags.policy,
    capacities: flags.capacity,
    ...(steSource && { steSource }),
    onProgress: (done) => progress.update(done),
  });
  progress.stop();
  if (flags.skipInvalid) Object.assign(report.trace, { skippedLines: trace.skipped });
  emit(flags.json ? JSON.stringify(report) : renderReplayTable(report));
}

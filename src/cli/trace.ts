/**
 * `kvflow trace`: work on trace files themselves. `convert` rewrites any format as canonical JSONL
 * (streamed), `validate` lists every invalid line, `stats` measures what the trace offers a cache.
 */
import { Option, type Command } from 'commander';
import { InputError } from '../errors.js';
import { count, percent, renderTable } from '../report/table.js';
import type { ReadTraceOptions } from '../types.js';
import { convertTrace, convertTraceToFile } from '../workload/convert.js';
import { EmptyTraceError, FORMAT_CHOICES, readTrace, streamTrace, type TraceStats } from '../workload/read.js';
import { traceStats, type TraceStatsReport } from '../workload/stats.js';
import { learnGraph, type LearnedGraph } from '../graph/learner.js';
import { replayOrder } from '../workload/request-order.js';
import { parseName } from './flags.js';
import { fieldOptions } from './config-flags.js';
import type { ConfigField } from '../config/field.js';
import { WORKLOAD_FIELDS } from '../config/workload-fields.js';
import { SESSIONS_START_HELP, type SessionsStart } from '../workload/sessions-start.js';
import { checkWritable } from './output-paths.js';
import { emit, EXIT, runCommand } from './run.js';

type FormatChoice = (typeof FORMAT_CHOICES)[number];

interface ReadFlags {
  blockSize?: number;
  skipInvalid?: boolean;
  tokenizer?: string;
}

interface ConvertFlags extends ReadFlags {
  from: FormatChoice;
  to: 'kvflow';
  out?: string;
  sessionsStart?: SessionsStart;
  seed: number;
}

interface ValidateFlags extends ReadFlags {
  format: FormatChoice;
}

interface StatsFlags extends ReadFlags {
  format: FormatChoice;
  json?: boolean;
}

/** Sessions listed in the `stats` table; `--json` lists all. */
const TABLE_SESSIONS = 20;

export function registerTrace(program: Command): void {
  const trace = program.command('trace').description('convert, validate and measure trace files');
  // A bare `kvflow trace` is a usage error: list the subcommands in a few lines, not the whole help.
  trace.action(() => {
    const width = Math.max(...trace.commands.map((command) => command.name().length));
    const lines = trace.commands.map((command) => `  ${command.name().padEnd(width)}  ${command.description()}`);
    process.stderr.write(`usage: kvflow trace <subcommand> [options]   (kvflow trace <subcommand> --help)\n\n${lines.join('\n')}\n`);
    process.exitCode = 2;
  });

  trace
    .command('convert')
    .description('rewrite a trace as canonical kvflow JSONL (a header line, then one request per line), streamed')
    .argument('<file>', 'trace file')
    .addOption(formatOption('--from <format>', 'format of the input'))
    .addOption(
      new Option('--to <format>', 'output format: kvflow (the only one)')
        .argParser((value) => parseName(value, ['kvflow'] as const))
        .default('kvflow'),
    )
    .option('--out <file>', 'write here (replaced only once complete) instead of stdout')
    .addOption(
      fieldOption({
        ...WORKLOAD_FIELDS.sessionsStart,
        description: `re-time sessions, each keeping its own gaps and order: ${SESSIONS_START_HELP} (reads the whole trace; docs/sessions-start.md)`,
      }),
    )
    .addOption(fieldOption({ ...WORKLOAD_FIELDS.seed, description: 'seed for --sessions-start poisson' }))
    .addOption(blockSizeOption())
    .addOption(tokenizerOption())
    .addOption(skipInvalidOption())
    .action((file: string, flags: ConvertFlags) => runCommand(() => convertCommand(file, flags)));

  trace
    .command('validate')
    .description('check every line; list each invalid one as file:line: field: problem on stderr, exit 2 if any')
    .argument('<file>', 'trace file')
    .addOption(formatOption('--format <format>', 'format of the trace'))
    .addOption(blockSizeOption())
    .addOption(tokenizerOption())
    .action((file: string, flags: ValidateFlags) => runCommand(() => validateCommand(file, flags)));

  const stats = trace
    .command('stats')
    .description('requests, sessions, tokens, distinct pages, reuse ceiling, reuse distances, per-session summary')
    .argument('<file>', 'trace file');
  addReadingOptions(stats)
    .option('--json', 'print one JSON document on stdout')
    .action((file: string, flags: StatsFlags) => runCommand(() => statsCommand(file, flags)));

  const graph = trace
    .command('graph')
    .description('the agent step graph learned online from the trace: agents, signatures, transition probabilities')
    .argument('<file>', 'trace file');
  addReadingOptions(graph)
    .option('--json', 'print one JSON document on stdout')
    .action((file: string, flags: StatsFlags) => runCommand(() => graphCommand(file, flags)));
}

async function graphCommand(file: string, flags: StatsFlags): Promise<void> {
  const trace = await readTrace(file, readOptions(flags.format, flags));
  const graph = learnGraph(replayOrder(trace.requests));
  // With --skip-invalid the document says how many lines it left out (as replay's does).
  const skipped = flags.skipInvalid ? { skippedLines: trace.skipped } : {};
  emit(flags.json ? JSON.stringify({ path: file, ...graph, ...skipped }) : renderGraph(file, graph, trace.skipped));
}

/** The terminal view of `graph`: agents by calls, then the most frequent transitions. */
function renderGraph(file: string, graph: LearnedGraph, skipped: number): string {
  const agents = [...graph.agents].sort((a, b) => b.requests - a.requests).slice(0, TABLE_SESSIONS);
  const transitions = graph.transitions.slice(0, TABLE_SESSIONS);
  return [
    `${file}: ${plural(graph.agents.length, 'agent')} learned over ${plural(graph.sessions, 'session')}, ${plural(graph.transitions.length, 'transition')}` +
      (skipped > 0 ? ` (${skippedNote(skipped)})` : ''),
    renderTable(
      ['agent', 'calls', 'signature pages', 'prompt'],
      agents.map((a) => [a.name, count(a.requests), count(a.signaturePages), a.growing ? 'grows by appending' : 'fixed + dynamic']),
    ),
    renderTable(
      ['from', 'to', 'count', 'probability'],
      transitions.map((t) => [t.from, t.to, count(t.count), percent(t.probability, 1)]),
    ),
  ].join('\n');
}

/** `--format` (or convert's `--from`), worded for the subcommand. */
function formatOption(flags: string, description: string): Option {
  return fieldOption({ ...WORKLOAD_FIELDS.format, flag: flags, description: `${description}: ${FORMAT_CHOICES.join(' | ')} (auto detects it from the first line)` });
}

// The reading flags are the workload fields `replay` and `simulate` take (config/workload-fields.ts).
function blockSizeOption(): Option {
  return fieldOption({ ...WORKLOAD_FIELDS.blockSize, description: 'tokens per block: for azure, lmcache, servingsim and kvflow lines without one (default 16; mooncake is 512)' });
}

function tokenizerOption(): Option {
  return fieldOption(WORKLOAD_FIELDS.tokenizer);
}

function skipInvalidOption(): Option {
  return fieldOption({ ...WORKLOAD_FIELDS.skipInvalid, description: 'skip and count invalid lines instead of stopping at the first' });
}

/** How stats and graph read the whole trace. */
function addReadingOptions(command: Command): Command {
  return command
    .addOption(formatOption('--format <format>', 'format of the trace'))
    .addOption(blockSizeOption())
    .addOption(tokenizerOption())
    .addOption(skipInvalidOption());
}

function fieldOption(field: ConfigField): Option {
  return fieldOptions(field)[0]!;
}

function readOptions(format: FormatChoice, flags: ReadFlags): ReadTraceOptions {
  return {
    format,
    ...(flags.blockSize !== undefined && { blockSize: flags.blockSize }),
    skipInvalid: flags.skipInvalid ?? false,
    ...(flags.tokenizer !== undefined && { tokenizer: flags.tokenizer }),
  };
}

async function convertCommand(file: string, flags: ConvertFlags): Promise<void> {
  checkWritable(flags.out, '--out');
  const options = {
    ...readOptions(flags.from, flags),
    ...(flags.sessionsStart && { sessionsStart: flags.sessionsStart, seed: flags.seed }),
  };
  if (flags.out === undefined) {
    try {
      const { skipped } = await convertTrace(file, process.stdout, options);
      if (skipped > 0) process.stderr.write(`kvflow: ${skippedNote(skipped)}\n`);
    } catch (err) {
      // The reader of stdout has stopped (`| head`): it has all it wants, which is no failure.
      if ((err as NodeJS.ErrnoException).code !== 'EPIPE') throw err;
    }
    return;
  }
  const summary = await convertTraceToFile(file, flags.out, options);
  const note = summary.skipped > 0 ? `, ${skippedNote(summary.skipped)}` : '';
  emit(`${flags.out}: ${count(summary.requests)} requests from ${summary.format} to ${flags.to}${note}`);
}

/** Reads the whole trace under skipInvalid, printing each problem as it is found. */
async function validateCommand(file: string, flags: ValidateFlags): Promise<void> {
  const stats: TraceStats = { format: undefined, skipped: 0 };
  const onInvalid = (problem: InputError) => process.stderr.write(`${problem.message}\n`);
  const options = { ...readOptions(flags.format, flags), skipInvalid: true, stats, onInvalid };
  let requests = 0;
  let problems = 0;
  try {
    for await (const _ of streamTrace(file, options)) requests++;
  } catch (err) {
    // A file without a single request is one more problem to list, not a reason to stop listing.
    if (!(err instanceof EmptyTraceError)) throw err;
    onInvalid(err);
    problems++;
  }
  problems += stats.skipped;
  const format = stats.format === undefined ? '' : `${stats.format}, `;
  emit(`${file}: ${format}${plural(requests, 'request')}, ${problems === 0 ? 'valid' : plural(problems, 'problem')}`);
  if (problems > 0) process.exitCode = EXIT.usage;
}

async function statsCommand(file: string, flags: StatsFlags): Promise<void> {
  const report = traceStats(await readTrace(file, readOptions(flags.format, flags)));
  emit(flags.json ? JSON.stringify(report) : renderStats(report));
}

/** The terminal view of `stats`: totals, the reuse-distance histogram, the largest sessions. */
export function renderStats(report: TraceStatsReport): string {
  const totals = renderTable(
    ['trace', report.path],
    [
      ['format', report.format + (report.skippedLines > 0 ? ` (${skippedNote(report.skippedLines)})` : '')],
      ['requests', count(report.requests) + (report.emptyPrompts > 0 ? ` (${count(report.emptyPrompts)} with an empty prompt)` : '')],
      ['sessions', count(report.sessions)],
      ['block size', report.blockSize === null ? 'mixed' : `${report.blockSize} tokens`],
      ['input tokens', count(report.inputTokens)],
      ['output tokens', count(report.outputTokens)],
      ['page references', count(report.pages)],
      ['distinct pages', count(report.distinctPages)],
      ['reuse ceiling', `${percent(report.reuseCeiling)} (${count(report.hitTokens)} tokens hit at unbounded capacity)`],
    ],
    false,
  );

  const references = report.pages;
  const share = (n: number) => (references > 0 ? percent(n / references, 1) : '-');
  const { firstUses, buckets } = report.reuseDistance;
  const distanceRows = [
    ['first use', count(firstUses), share(firstUses)],
    ...buckets.map(({ min, max, count: n }) => [min === max ? `${min}` : `${min}-${max}`, count(n), share(n)]),
  ];
  const distances = renderTable(['reuse distance (requests)', 'page references', 'share'], distanceRows);

  const sections = [totals, distances];
  if (report.sessions > 0) {
    const shown = report.sessionSummaries.slice(0, TABLE_SESSIONS);
    const rows = shown.map((s) => [
      s.session,
      count(s.requests),
      count(s.inputTokens),
      count(s.outputTokens),
      count(s.pages),
      percent(s.hitRate),
    ]);
    const head = ['session', 'requests', 'input tokens', 'output tokens', 'page refs', 'hit rate (inf)'];
    const more = report.sessions - shown.length;
    sections.push(renderTable(head, rows) + (more > 0 ? `\n(${plural(more, 'more session')} in --json)` : ''));
  }
  return sections.join('\n');
}

function skippedNote(skipped: number): string {
  return `${plural(skipped, 'invalid line')} skipped`;
}

function plural(n: number, noun: string): string {
  return `${count(n)} ${noun}${n === 1 ? '' : 's'}`;
}

/**
 * Import benchmark (issue 4): reading each real trace format into canonical requests, whole runs (the
 * median of several after a warm-up run), as lines/s and MB/s; LMCache also as tokens/s, since
 * tokenizing the prompts is most of its cost. Then `trace stats` and `trace convert` on Mooncake.
 */
import { readFile, stat } from 'node:fs/promises';
import { Writable } from 'node:stream';
import type { ReadTraceOptions, Trace } from '../src/types.js';
import { convertTrace } from '../src/workload/convert.js';
import { readTrace } from '../src/workload/read.js';
import { traceStats } from '../src/workload/stats.js';
import { DEFAULT_TEXT_TOKENIZER, loadTokenizer, TOKENIZER_NAME } from '../src/workload/tokenize.js';
import { sharedTrace } from './paths.js';
import type { BenchLine } from './replay.js';

/** Timed runs per case, after one untimed warm-up run. */
const RUNS = 5;

export async function benchImport(): Promise<BenchLine[]> {
  const lines: BenchLine[] = [];
  const cases: [string, ReadTraceOptions][] = [
    ['mooncake_conversation_trace.jsonl', {}],
    ['azure_llm_2023_code.csv', {}],
    ['azure_llm_2023_conv.csv', {}],
    ['lmcache_agent_miniswe.jsonl', {}],
    // 46 Magentic-One calls were logged with an empty prompt: invalid lines, skipped.
    ['lmcache_agent_magagent.jsonl', { skipInvalid: true }],
  ];
  let mooncake: Trace | undefined;
  for (const [name, options] of cases) {
    const path = sharedTrace(name);
    const { size } = await stat(path);
    let trace: Trace | undefined;
    const seconds = await medianSeconds(async () => {
      trace = await readTrace(path, options);
    });
    const { requests, skipped, format } = trace!;
    if (format === 'mooncake') mooncake = trace;
    const fileLines = requests.length + skipped + (format === 'azure' ? 1 : 0); // Azure's header is a line
    let value =
      `${rate(fileLines, seconds)} lines/s, ${rate(size / 2 ** 20, seconds, 1)} MB/s ` +
      `(${ms(seconds)} for ${count(fileLines)} lines)`;
    if (format === 'lmcache') {
      const tokens = requests.reduce((sum, r) => sum + r.inputLength + r.outputLength, 0);
      value += `, ${rate(tokens, seconds)} tokens/s`;
    }
    lines.push({ name: `import ${name}`, value });
  }

  lines.push(await benchTokenizerOnly('lmcache_agent_miniswe.jsonl', TOKENIZER_NAME));
  lines.push(await benchTokenizerOnly('lmcache_agent_miniswe.jsonl', DEFAULT_TEXT_TOKENIZER));

  const parsed = mooncake!;
  const pages = parsed.requests.reduce((sum, r) => sum + r.blocks.length, 0);
  const statsSeconds = await medianSeconds(async () => {
    traceStats(parsed);
  });
  lines.push({ name: 'trace stats mooncake (parsed)', value: `${ms(statsSeconds)}, ${rate(pages, statsSeconds)} pages/s` });

  const convertSeconds = await medianSeconds(async () => {
    await convertTrace(parsed.path, discard());
  });
  const requests = parsed.requests.length;
  lines.push({ name: 'trace convert mooncake', value: `${ms(convertSeconds)}, ${rate(requests, convertSeconds)} lines/s` });
  return lines;
}

/** The tokenizer's share of an LMCache import: encoding every prompt and counting every output. */
async function benchTokenizerOnly(name: string, tokenizerName: string): Promise<BenchLine> {
  const tokenizer = await loadTokenizer(tokenizerName);
  const texts = (await readFile(sharedTrace(name), 'utf8'))
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as { input: string; output: string });
  const chars = texts.reduce((sum, t) => sum + t.input.length + t.output.length, 0);
  let tokens = 0;
  const seconds = await medianSeconds(async () => {
    tokens = 0;
    for (const { input, output } of texts) tokens += tokenizer.encode(input).length + tokenizer.count(output);
  });
  return {
    name: `tokenize only (${name.replace('lmcache_agent_', '').replace('.jsonl', '')}, ${tokenizerName})`,
    value: `${ms(seconds)}, ${rate(tokens, seconds)} tokens/s, ${rate(chars / 2 ** 20, seconds, 1)} M chars/s`,
  };
}

async function medianSeconds(run: () => Promise<void>): Promise<number> {
  await run(); // warm-up: JIT, the tokenizer's ranks, the page cache
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const started = performance.now();
    await run();
    times.push((performance.now() - started) / 1000);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

/** A sink that drops what it is given, so that only conversion is timed. */
function discard(): Writable {
  return new Writable({ write: (_chunk, _encoding, done) => done() });
}

function rate(amount: number, seconds: number, digits = 0): string {
  const perSecond = amount / seconds;
  if (digits > 0) return perSecond.toFixed(digits);
  if (perSecond >= 1e6) return `${(perSecond / 1e6).toFixed(2)}M`;
  return perSecond >= 1e4 ? `${(perSecond / 1e3).toFixed(0)}k` : perSecond.toFixed(0);
}

function ms(seconds: number): string {
  return `${(seconds * 1000).toFixed(1)} ms`;
}

function count(n: number): string {
  return n.toLocaleString('en-US');
}

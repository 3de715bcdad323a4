/**
 * Importers of other trace formats (Azure CSV, LMCache agent traces, LLMServingSim sessions): real lines
 * from ../shared/traces, hand-made edge cases with exact messages, auto-detection, skipInvalid, chained
 * block ids, and fuzzing of real lines.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { InputError } from '../../src/errors.js';
import type { ReadTraceOptions, TraceRequest } from '../../src/types.js';
import { isLmcacheLine, LmcacheLineParser, lmcacheSchema } from '../../src/workload/lmcache.js';
import { readTrace, streamTrace, type TraceStats } from '../../src/workload/read.js';
import { isServingSimLine, ServingSimLineParser, servingSimSchema } from '../../src/workload/servingsim.js';
import { DEFAULT_TEXT_TOKENIZER, loadTokenizer } from '../../src/workload/tokenize.js';
import { requireTrace } from '../helpers/requirements.js';

const AZURE_CODE = requireTrace('azure_llm_2023_code.csv');
const AZURE_CONV = requireTrace('azure_llm_2023_conv.csv');
const MAGAGENT = requireTrace('lmcache_agent_magagent.jsonl');
const MINISWE = requireTrace('lmcache_agent_miniswe.jsonl');
const MOONCAKE = requireTrace('mooncake_conversation_trace.jsonl');
const SERVINGSIM = fileURLToPath(new URL('../fixtures/importers/servingsim-sessions.jsonl', import.meta.url));
const HAVE_TRACES = [AZURE_CODE, AZURE_CONV, MAGAGENT, MINISWE, MOONCAKE].every(Boolean);

let dir: string;
let fileCount = 0;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kvflow-importers-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Writes `content` to a fresh file in the temporary directory and returns its path. */
async function tempFile(content: string | Buffer, extension = 'jsonl'): Promise<string> {
  const path = join(dir, `t${fileCount++}.${extension}`);
  await writeFile(path, content);
  return path;
}

/** The message of the `InputError` that `promise` rejects with; fails the test on anything else. */
async function inputErrorOf(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(InputError);
  return (error as InputError).message;
}

/** Every problem a skipInvalid read meets, in order, as messages. */
async function problemsOf(path: string, opts: ReadTraceOptions = {}): Promise<string[]> {
  const problems: string[] = [];
  const stream = streamTrace(path, { ...opts, skipInvalid: true, onInvalid: (problem) => problems.push(problem.message) });
  for await (const _ of stream) {
    // only the problems matter here
  }
  return problems;
}

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

const AZURE_HEADER = 'TIMESTAMP,ContextTokens,GeneratedTokens';

describe.skipIf(!HAVE_TRACES)('Azure LLM inference CSV: the real traces', () => {
  it('reads the code trace (CRLF, no final newline): one request per row, t from the first row', async () => {
    const trace = await readTrace(AZURE_CODE);
    expect(trace.format).toBe('azure');
    expect(trace.requests).toHaveLength(8819);
    const [first, second] = trace.requests;
    expect(first).toEqual({
      id: 'az-2',
      t: 0,
      blocks: range(0, 300),
      blockSize: 16,
      inputLength: 4808,
      outputLength: 10,
    });
    expect(second).toMatchObject({ id: 'az-3', t: 0.052, blocks: range(301, 499), inputLength: 3180, outputLength: 8 });
    expect(trace.requests.at(-1)).toMatchObject({ id: 'az-8820', t: 3435.948056, inputLength: 549, outputLength: 173 });
    expect(sum(trace.requests.map((r) => r.inputLength))).toBe(18_059_974);
    expect(sum(trace.requests.map((r) => r.outputLength))).toBe(245_896);
  });

  it('shares nothing: every block id is used once, whatever the block size', async () => {
    const { requests } = await readTrace(AZURE_CONV, { blockSize: 64 });
    expect(requests).toHaveLength(19_366);
    const ids = requests.flatMap((r) => r.blocks);
    expect(new Set(ids).size).toBe(ids.length);
    for (const r of requests) expect(r.blocks).toHaveLength(Math.ceil(r.inputLength / 64));
    const times = requests.map((r) => r.t!);
    expect(times).toEqual([...times].sort((a, b) => a - b));
  });
});

describe('Azure LLM inference CSV: edge cases', () => {
  it('reads CRLF or LF, with or without a final newline, columns in any order plus extra ones', async () => {
    const rows = ['2023-11-16 18:17:03.9799600,4808,10', '2023-11-16 18:17:04.0319600,17,0'];
    const expected = [
      { id: 'az-2', t: 0, blocks: range(0, 300), blockSize: 16, inputLength: 4808, outputLength: 10 },
      { id: 'az-3', t: 0.052, blocks: [301, 302], blockSize: 16, inputLength: 17, outputLength: 0 },
    ];
    for (const content of [
      [AZURE_HEADER, ...rows].join('\r\n'),
      [AZURE_HEADER, ...rows].join('\n') + '\n',
      [AZURE_HEADER, ...rows].join('\r\n') + '\r\n',
    ]) {
      expect((await readTrace(await tempFile(content, 'csv'))).requests).toEqual(expected);
    }
    const reordered = ['Region,GeneratedTokens,TIMESTAMP,ContextTokens', 'eu,3,2023-11-16 00:00:00,16'].join('\r\n');
    const trace = await readTrace(await tempFile(reordered, 'csv'), { format: 'azure' });
    expect(trace.requests).toEqual([{ id: 'az-2', t: 0, blocks: [0], blockSize: 16, inputLength: 16, outputLength: 3 }]);
  });

  it('keeps the 100 ns precision of wall-clock times across midnight and months', async () => {
    const content = [
      AZURE_HEADER,
      '2023-12-31 23:59:59.9999999,1,1',
      '2024-01-01 00:00:00.0000001,1,1',
      '2024-03-01 00:00:00,1,1',
    ].join('\r\n');
    const times = (await readTrace(await tempFile(content, 'csv'))).requests.map((r) => r.t);
    expect(times).toEqual([0, 0.0000002, 60 * 86400 + 0.0000001]); // 2024 is a leap year: 31 + 29 days
  });

  it('an empty or header-only file is an empty trace', async () => {
    for (const content of ['', AZURE_HEADER, `${AZURE_HEADER}\r\n`, `${AZURE_HEADER}\r\n\r\n`]) {
      const path = await tempFile(content, 'csv');
      expect(await inputErrorOf(readTrace(path, { format: 'azure' }))).toBe(`${path}: empty trace`);
    }
  });

  /** [case, rows after the header and a first valid row at 18:17:03 (line 2), message after `<path>:`] */
  const cases: [string, string, string][] = [
    ['missing column', '2023-11-16 18:17:04,5', '3: GeneratedTokens: missing (the row has 2 of 3 columns)'],
    ['extra column', '2023-11-16 18:17:04,5,5,5', '3: (row): expected 3 comma-separated columns (as the header), got 4'],
    ['empty cell', '2023-11-16 18:17:04,,5', '3: ContextTokens: expected an integer >= 1, got ""'],
    ['non-integer', '2023-11-16 18:17:04,5.5,5', '3: ContextTokens: expected an integer >= 1, got "5.5"'],
    ['negative', '2023-11-16 18:17:04,5,-1', '3: GeneratedTokens: expected a non-negative integer, got "-1"'],
    ['zero prompt', '2023-11-16 18:17:04,0,5', '3: ContextTokens: expected an integer >= 1, got "0"'],
    ['beyond safe integers', '2023-11-16 18:17:04,9007199254740993,5', '3: ContextTokens: expected an integer >= 1, got "9007199254740993"'],
    ['not a time', '18:17:04,5,5', '3: TIMESTAMP: expected a time "YYYY-MM-DD HH:MM:SS.fffffff", got "18:17:04"'],
    ['no such date', '2023-02-30 18:17:04,5,5', '3: TIMESTAMP: expected a time "YYYY-MM-DD HH:MM:SS.fffffff", got "2023-02-30 18:17:04"'],
    [
      'timestamp backwards',
      '2023-11-16 18:17:02.5,5,5',
      '3: TIMESTAMP: goes backwards: 2023-11-16 18:17:02.5 after 2023-11-16 18:17:03.9799600 on line 2',
    ],
  ];

  it.each(cases)('%s', async (_name, row, expected) => {
    const path = await tempFile([AZURE_HEADER, '2023-11-16 18:17:03.9799600,4808,10', row].join('\r\n'), 'csv');
    expect(await inputErrorOf(readTrace(path))).toBe(`${path}:${expected}`);
  });

  it('a header without a required column, or with one twice, is a problem on line 1', async () => {
    const missing = await tempFile('TIMESTAMP,ContextTokens\r\n2023-11-16 18:17:04,5', 'csv');
    expect(await inputErrorOf(readTrace(missing, { format: 'azure' }))).toBe(
      `${missing}:1: (header): expected a header with TIMESTAMP, ContextTokens, GeneratedTokens: ` +
        'no column GeneratedTokens in "TIMESTAMP,ContextTokens"',
    );
    const twice = await tempFile(`${AZURE_HEADER},TIMESTAMP\r\n`, 'csv');
    expect(await inputErrorOf(readTrace(twice, { format: 'azure' }))).toMatch(/:1: \(header\): .*column TIMESTAMP appears twice/);
  });

  it('skipInvalid skips and counts bad rows; timestamps are checked against the last valid row', async () => {
    const content = [
      AZURE_HEADER,
      '2023-11-16 18:00:01,5,5',
      '2023-11-16 18:00:00,5,5', // backwards
      'nonsense',
      '2023-11-16 18:00:02,5,x',
      '2023-11-16 18:00:03,5,5',
    ].join('\r\n');
    const path = await tempFile(content, 'csv');
    const trace = await readTrace(path, { skipInvalid: true });
    expect(trace.skipped).toBe(3);
    expect(trace.requests.map((r) => [r.id, r.t])).toEqual([
      ['az-2', 0],
      ['az-6', 2],
    ]);
    expect(trace.requests[1]?.blocks).toEqual([1]); // ids advance only for requests kept
  });
});

describe.skipIf(!HAVE_TRACES)('LMCache agent traces: the real traces', () => {
  it('miniswe: a workflow per session, the first request open loop, the rest after the previous one', async () => {
    const trace = await readTrace(MINISWE);
    expect(trace.format).toBe('lmcache');
    const { requests } = trace;
    expect(requests).toHaveLength(242);
    const sessions = new Map<string, TraceRequest[]>();
    for (const r of requests) sessions.set(r.workflow!, [...(sessions.get(r.workflow!) ?? []), r]);
    expect(sessions.size).toBe(12);
    for (const calls of sessions.values()) {
      expect(calls[0]?.t).toBeTypeOf('number');
      expect(calls[0]?.after).toBeUndefined();
      calls.slice(1).forEach((call, i) => {
        expect(call.t).toBeUndefined();
        expect(call.after).toEqual([calls[i]!.id]);
        expect(call.agent).toBeUndefined();
      });
    }
    expect(requests[0]).toMatchObject({ id: 'lm-1', t: 0, workflow: 'd80534b26b1c83c2c3bcf6be4ca2eb0e', blockSize: 16 });
  });

  it('miniswe: tokens counted with Llama-3.1-8B (begin-of-text included), prompts that grow by appending share their leading blocks', async () => {
    const tokenizer = await loadTokenizer(DEFAULT_TEXT_TOKENIZER);
    const lines = (await readFile(MINISWE, 'utf8')).split('\n').slice(0, 2);
    const raw = lines.map((line) => JSON.parse(line) as { input: string; output: string });
    const { requests } = await readTrace(await tempFile(lines.join('\n')));
    const [first, second] = requests as [TraceRequest, TraceRequest];
    expect(first.inputLength).toBe(tokenizer.encode(raw[0]!.input).length);
    expect(tokenizer.encode(raw[0]!.input)[0]).toBe(128_000);
    // cl100k_base stays available by name.
    const cl100k = await readTrace(await tempFile(lines.join('\n')), { tokenizer: 'cl100k_base' });
    expect(cl100k.requests[0]!.inputLength).toBe((await loadTokenizer('cl100k_base')).encode(raw[0]!.input).length);
    expect(first.outputLength).toBe(tokenizer.count(raw[0]!.output));
    expect(first.blocks).toHaveLength(Math.ceil(first.inputLength / 16));
    // The second step's prompt starts with the first's text: all the first's full blocks but the
    // last few (BPE may merge differently where the texts part) are shared.
    const shared = first.blocks.findIndex((id, i) => second.blocks[i] !== id);
    expect(shared).toBeGreaterThan(first.blocks.length - 4);
  });

  it('magagent: prompts logged empty are zero-token requests, not invalid lines (issue 15)', async () => {
    const trace = await readTrace(MAGAGENT);
    expect(trace.skipped).toBe(0);
    expect(trace.requests).toHaveLength(711);
    const empty = trace.requests.filter((r) => r.inputLength === 0);
    expect(empty).toHaveLength(46);
    expect(empty.every((r) => r.blocks.length === 0)).toBe(true);
    expect(new Set(trace.requests.map((r) => r.workflow)).size).toBe(24);
    expect(trace.requests.slice(2, 4).map((r) => [r.id, r.after])).toEqual([
      ['lm-3', ['lm-2']],
      ['lm-4', ['lm-3']],
    ]);
  });
});

describe('LMCache agent traces: edge cases', () => {
  const line = (fields: Record<string, unknown>) =>
    JSON.stringify({ timestamp: 1_000_000, input: 'Hello world', output: 'Hi', session_id: 's', ...fields });

  it('t is seconds since the first line, for each session\'s first request; output may be empty', async () => {
    const content = [
      line({}),
      line({ timestamp: 900_000 }), // before the first line, but not a session start: order is kept
      line({ session_id: 'u', timestamp: 3_500_000, output: '' }),
    ].join('\r\n');
    const { requests } = await readTrace(await tempFile(content));
    expect(requests.map((r) => [r.id, r.workflow, r.t, r.after, r.outputLength])).toEqual([
      ['lm-1', 's', 0, undefined, 1],
      ['lm-2', 's', undefined, ['lm-1'], 1],
      ['lm-3', 'u', 2.5, undefined, 0],
    ]);
  });

  it("cuts prompts into --block-size blocks; another model's special-token text is ordinary text", async () => {
    const input = 'word '.repeat(40) + '<|endoftext|>';
    const tokenizer = await loadTokenizer(DEFAULT_TEXT_TOKENIZER);
    const tokens = tokenizer.encode(input).length;
    const { requests } = await readTrace(await tempFile(line({ input })), { blockSize: 8 });
    expect(requests[0]).toMatchObject({ inputLength: tokens, blockSize: 8 });
    expect(requests[0]?.blocks).toHaveLength(Math.ceil(tokens / 8));
  });

  const cases: [string, string, string][] = [
    ['missing session', line({ session_id: undefined }), '1: session_id: missing, expected a non-empty string'],
    ['timestamp in seconds', line({ timestamp: 1.5 }), '1: timestamp: expected a non-negative integer, got 1.5'],
    ['output not text', line({ output: 3 }), '1: output: expected a string, got 3'],
    [
      'a session starting before the trace',
      `${line({})}\n${line({ session_id: 'late', timestamp: 999_999 })}`,
      '2: timestamp: session "late" starts at 999999 µs, before the trace does (1000000 µs on line 1)',
    ],
  ];

  it.each(cases)('%s', async (_name, content, expected) => {
    const path = await tempFile(content);
    expect(await inputErrorOf(readTrace(path, { format: 'lmcache' }))).toBe(`${path}:${expected}`);
  });
});

describe('LLMServingSim agentic sessions', () => {
  it('reads the fixture: chains with think = the previous tool time, token ids hashed, unique blocks otherwise', async () => {
    const trace = await readTrace(SERVINGSIM);
    expect(trace.format).toBe('servingsim');
    const { requests } = trace;
    expect(requests.map(({ blocks: _, ...rest }) => rest)).toEqual([
      { id: 'ss-1-0', t: 1.5, workflow: 's-a', blockSize: 16, inputLength: 20, outputLength: 3 },
      { id: 'ss-1-1', after: ['ss-1-0'], think: 0.25, workflow: 's-a', blockSize: 16, inputLength: 40, outputLength: 2 },
      { id: 'ss-1-2', after: ['ss-1-1'], workflow: 's-a', blockSize: 16, inputLength: 41, outputLength: 1 },
      { id: 'ss-2-0', t: 0, workflow: 's-b', blockSize: 16, inputLength: 17, outputLength: 5 },
      { id: 'ss-2-1', after: ['ss-2-0'], think: 1, workflow: 's-b', blockSize: 16, inputLength: 33, outputLength: 0 },
      { id: 'ss-4-0', t: 3, workflow: 'ss-4', blockSize: 16, inputLength: 5, outputLength: 1 },
    ]);
    const [a0, a1, a2, b0, b1, solo] = requests.map((r) => r.blocks) as number[][];
    // Session s-a hashes its token ids: a1 extends a0's first full block; a2 extends all of a1's full blocks.
    expect(a0).toHaveLength(2);
    expect(a1?.[0]).toBe(a0?.[0]);
    expect(a1?.[1]).not.toBe(a0?.[1]); // a0's partial block 1 (4 tokens) is not a1's full one
    expect(a2?.slice(0, 2)).toEqual(a1?.slice(0, 2));
    expect(a2?.[2]).not.toBe(a1?.[2]);
    // Without token ids every block is new.
    expect([...b0!, ...b1!, ...solo!]).toEqual([0, 1, 2, 3, 4, 5]);
  });

  const session = (subs: unknown, extra: Record<string, unknown> = {}) =>
    JSON.stringify({ session_id: 'x', arrival_time_ns: 0, sub_requests: subs, ...extra });

  const cases: [string, string, string][] = [
    ['sub_requests not an array', session({}), '1: sub_requests: expected an array of sub-requests, got an object'],
    ['a sub-request not an object', session([1]), '1: sub_requests.0: expected a sub-request object, got 1'],
    [
      'bad sub-request field',
      session([{ input_toks: 1, output_toks: 1 }, { input_toks: 1, output_toks: -2 }]),
      '1: sub_requests.1.output_toks: expected a non-negative integer, got -2',
    ],
    ['empty prompt', session([{ input_toks: 0, output_toks: 1 }]), '1: sub_requests.0.input_toks: expected an integer >= 1, got 0'],
    [
      'bad token id',
      session([{ input_toks: 2, output_toks: 1, input_tok_ids: [1, 'a'] }]),
      '1: sub_requests.0.input_tok_ids.1: expected a non-negative integer, got "a"',
    ],
    [
      'token ids not matching input_toks',
      session([{ input_toks: 3, output_toks: 1, input_tok_ids: [1, 2] }]),
      '1: sub_requests.0.input_tok_ids: expected 3 token ids (one per input_toks), got 2',
    ],
    ['arrival in seconds', session([], { arrival_time_ns: 0.5 }), '1: arrival_time_ns: expected a non-negative integer, got 0.5'],
    ['duplicate session', `${session([])}\n${session([])}`, '2: session_id: duplicate session "x", first used on line 1'],
  ];

  it.each(cases)('%s', async (_name, content, expected) => {
    const path = await tempFile(content);
    expect(await inputErrorOf(readTrace(path, { format: 'servingsim' }))).toBe(`${path}:${expected}`);
  });
});

describe('chained block ids (through the LLMServingSim importer)', () => {
  /** Block ids of a prompt given as token ids, as the importer computes them. */
  function blocksOf(tokens: number[], blockSize: number): number[] {
    const line = JSON.stringify({
      arrival_time_ns: 0,
      sub_requests: [{ input_toks: tokens.length, output_toks: 0, input_tok_ids: tokens }],
    });
    return new ServingSimLineParser('p.jsonl', blockSize).parse({ line: 1, text: line })[0]!.blocks;
  }

  const tokensArb = fc.array(fc.integer({ min: 0, max: 200_000 }), { minLength: 1, maxLength: 120 });

  it('equal token prefixes give equal block-id prefixes, as far as whole blocks are equal', () => {
    fc.assert(
      fc.property(tokensArb, tokensArb, tokensArb, fc.integer({ min: 1, max: 20 }), (prefix, tailA, tailB, blockSize) => {
        const a = blocksOf([...prefix, ...tailA], blockSize);
        const b = blocksOf([...prefix, ...tailB], blockSize);
        const wholeBlocks = Math.floor(prefix.length / blockSize);
        expect(a.slice(0, wholeBlocks)).toEqual(b.slice(0, wholeBlocks));
        for (const id of [...a, ...b]) expect(Number.isSafeInteger(id) && id >= 0).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('a change in block k changes every id from k on and none before', () => {
    fc.assert(
      fc.property(tokensArb, fc.nat(), fc.integer({ min: 1, max: 200_000 }), fc.integer({ min: 1, max: 20 }), (tokens, at, delta, blockSize) => {
        const position = at % tokens.length;
        const changed = [...tokens];
        changed[position] = (changed[position]! + delta) % 200_001;
        const before = blocksOf(tokens, blockSize);
        const after = blocksOf(changed, blockSize);
        const k = Math.floor(position / blockSize);
        expect(after.slice(0, k)).toEqual(before.slice(0, k));
        for (let i = k; i < before.length; i++) expect(after[i]).not.toBe(before[i]);
      }),
      { numRuns: 300 },
    );
  });

  it('a partial last block differs from the full block it starts', () => {
    expect(blocksOf(range(1, 20), 16)[1]).not.toBe(blocksOf(range(1, 32), 16)[1]);
  });
});

describe('format detection and skipInvalid', () => {
  it.skipIf(!HAVE_TRACES)('auto detects every format from its first line', async () => {
    const expected: [string, string][] = [
      [AZURE_CODE, 'azure'],
      [MINISWE, 'lmcache'],
      [MOONCAKE, 'mooncake'],
      [SERVINGSIM, 'servingsim'],
    ];
    for (const [path, format] of expected) {
      const stats: TraceStats = { format: undefined, skipped: 0 };
      for await (const _ of streamTrace(path, { stats })) break;
      expect(stats.format).toBe(format);
    }
  });

  it('an Azure header with other columns is not detected (no guessing): it reads as kvflow and fails', async () => {
    const path = await tempFile('Region,TIMESTAMP,ContextTokens,GeneratedTokens\r\nx,2023-11-16 00:00:00,1,1', 'csv');
    expect(await inputErrorOf(readTrace(path))).toMatch(/:1: \(json\): invalid JSON/);
  });

  it('a forced format reads lines as that format', async () => {
    expect(await inputErrorOf(readTrace(SERVINGSIM, { format: 'lmcache' }))).toBe(
      `${SERVINGSIM}:1: timestamp: missing, expected a non-negative integer`,
    );
    expect(await inputErrorOf(readTrace(SERVINGSIM, { format: 'azure' }))).toMatch(
      new RegExp(`^${escapeRegExp(SERVINGSIM)}:1: \\(header\\): expected a header with TIMESTAMP`),
    );
  });

  it('skipInvalid reports each problem to onInvalid, and a session after a skipped line still chains', async () => {
    const ok = (id: string, subs = 1) =>
      JSON.stringify({ session_id: id, arrival_time_ns: 0, sub_requests: Array(subs).fill({ input_toks: 1, output_toks: 1 }) });
    const path = await tempFile([ok('a', 2), '{"sub_requests": [}', ok('a'), ok('b')].join('\n'));
    const problems = await problemsOf(path);
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(new RegExp(`^${escapeRegExp(path)}:2: \\(json\\): invalid JSON`));
    expect(problems[1]).toBe(`${path}:3: session_id: duplicate session "a", first used on line 1`);
    const trace = await readTrace(path, { skipInvalid: true });
    expect(trace.skipped).toBe(2);
    expect(trace.requests.map((r) => r.id)).toEqual(['ss-1-0', 'ss-1-1', 'ss-4-0']);
  });

  it('sessions with no sub-requests send nothing; a file of only those is an empty trace', async () => {
    const path = await tempFile('{"arrival_time_ns": 0, "sub_requests": []}\n');
    expect(await inputErrorOf(readTrace(path))).toBe(`${path}: empty trace`);
  });
});

describe('quick checks agree with the zod schemas', () => {
  const anyJson = fc.constantFrom<unknown>(null, true, -1, 0, 1, 1.5, 2 ** 53, '', 'x', [], [0], [-1], ['a'], {});
  const field = (valid: fc.Arbitrary<unknown>) =>
    fc.oneof(
      { arbitrary: valid, weight: 6 },
      { arbitrary: anyJson, weight: 1 },
      { arbitrary: fc.constant(undefined), weight: 1 },
    );
  /** Objects of the given fields, or any JSON value, as `JSON.parse` gives them (no undefined fields). */
  const objectOf = (fields: Record<string, fc.Arbitrary<unknown>>) =>
    fc
      .oneof({ arbitrary: fc.record(fields), weight: 9 }, { arbitrary: anyJson, weight: 1 })
      .map((value) => (typeof value === 'object' && value !== null ? (JSON.parse(JSON.stringify(value)) as unknown) : value));

  function expectAgreement(values: fc.Arbitrary<unknown>, quick: (v: unknown) => boolean, schema: z.ZodType) {
    let accepted = 0;
    fc.assert(
      fc.property(values, (value) => {
        const valid = schema.safeParse(value).success;
        expect(quick(value)).toBe(valid);
        if (valid) accepted++;
      }),
      { numRuns: 2000 },
    );
    expect(accepted).toBeGreaterThan(100);
  }

  it('LMCache lines', () => {
    const lineLike = objectOf({
      timestamp: field(fc.integer({ min: -1, max: 2 ** 52 })),
      input: field(fc.string()),
      output: field(fc.string()),
      session_id: field(fc.string()),
    });
    expectAgreement(lineLike, isLmcacheLine, lmcacheSchema());
  });

  it('LLMServingSim session lines', () => {
    const subRequest = objectOf({
      input_toks: field(fc.integer({ min: -1, max: 64 })),
      output_toks: field(fc.integer({ min: -1, max: 64 })),
      tool_duration_ns: field(fc.integer({ min: -1, max: 1e9 })),
      input_tok_ids: field(fc.array(fc.integer({ min: -1, max: 1000 }), { maxLength: 4 })),
    });
    const lineLike = objectOf({
      session_id: field(fc.string()),
      arrival_time_ns: field(fc.integer({ min: -1, max: 1e12 })),
      sub_requests: field(fc.array(subRequest, { maxLength: 3 })),
    });
    expectAgreement(lineLike, isServingSimLine, servingSimSchema());
  });
});

describe.skipIf(!HAVE_TRACES)('fuzz: mutated real lines of each format', () => {
  /** Ways to damage a file: flip a byte, cut it short, swap or repeat lines, or rewrite a field. */
  const mutationArb = fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) }),
    fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
    fc.record({ kind: fc.constant('swap' as const), a: fc.nat(), b: fc.nat() }),
    fc.record({ kind: fc.constant('repeat' as const), a: fc.nat() }),
    fc.record({ kind: fc.constant('field' as const), line: fc.nat(), pick: fc.nat(), value: fc.nat() }),
  );
  type Mutation = typeof mutationArb extends fc.Arbitrary<infer M> ? M : never;

  const BAD_JSON = ['"x"', 'null', '[]', '{}', '-1', '1.5', '1e400', 'true', '[1, "a"]', '9007199254740993', '""', '0'];
  const BAD_CELLS = ['', 'x', '-1', '1.5', '0', '99999999999999999999', '2023-11-16', '2023-11-16 99:00:00'];

  /** Rewrites (or drops) one top-level field of a JSON line, or one cell of a CSV line. */
  function rewriteField(line: string, pick: number, value: number): string {
    if (!line.startsWith('{')) {
      const cells = line.split(',');
      const i = pick % (cells.length + 1);
      if (i === cells.length) return cells.slice(0, -1).join(','); // drop the last cell
      cells[i] = BAD_CELLS[value % BAD_CELLS.length]!;
      return cells.join(',');
    }
    let fields: Record<string, unknown>;
    try {
      fields = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return line;
    }
    const keys = Object.keys(fields);
    const key = keys[pick % keys.length]!;
    const fragment = value % (BAD_JSON.length + 1) === BAD_JSON.length ? undefined : BAD_JSON[value % BAD_JSON.length];
    const parts = keys.flatMap((k) => {
      if (k !== key) return [`${JSON.stringify(k)}: ${JSON.stringify(fields[k])}`];
      return fragment === undefined ? [] : [`${JSON.stringify(k)}: ${fragment}`];
    });
    return `{${parts.join(', ')}}`;
  }

  function mutate(sample: readonly string[], mutations: Mutation[], newline: string): Buffer {
    const lines = [...sample];
    let bytes = Buffer.from(lines.join(newline));
    for (const m of mutations) {
      if (m.kind === 'flip' || m.kind === 'truncate') {
        if (m.kind === 'flip') bytes[m.at % bytes.length] = (bytes[m.at % bytes.length] ?? 0) ^ m.xor;
        else bytes = bytes.subarray(0, m.at % (bytes.length + 1));
        continue;
      }
      if (m.kind === 'swap') {
        const [a, b] = [m.a % lines.length, m.b % lines.length];
        [lines[a], lines[b]] = [lines[b]!, lines[a]!];
      } else if (m.kind === 'repeat') {
        lines.push(lines[m.a % lines.length]!);
      } else {
        const i = m.line % lines.length;
        lines[i] = rewriteField(lines[i]!, m.pick, m.value);
      }
      bytes = Buffer.from(lines.join(newline));
    }
    return bytes;
  }

  /** Real lines, shortened where they are long (LMCache prompts) so that each run tokenizes little. */
  async function sampleOf(path: string, count: number): Promise<string[]> {
    const lines = (await readFile(path, 'utf8')).split(/\r?\n/).slice(0, count);
    if (!path.includes('lmcache')) return lines;
    return lines.map((line) => {
      const value = JSON.parse(line) as Record<string, string>;
      return JSON.stringify({ ...value, input: value.input!.slice(0, 400), output: value.output!.slice(0, 100) });
    });
  }

  const formats: [string, string, number, string][] = [
    ['azure', AZURE_CODE, 25, '\r\n'],
    ['lmcache', MAGAGENT, 12, '\n'],
    ['servingsim', SERVINGSIM, 4, '\n'],
    ['mooncake', MOONCAKE, 25, '\n'],
  ];

  it.each(formats)('%s: reading succeeds or throws an InputError naming file and line', async (_format, source, count, newline) => {
    const sample = await sampleOf(source, count);
    const path = join(dir, `fuzz-${_format}`);
    await fc.assert(
      fc.asyncProperty(fc.array(mutationArb, { minLength: 1, maxLength: 4 }), fc.boolean(), async (mutations, skipInvalid) => {
        await writeFile(path, mutate(sample, mutations, newline));
        try {
          await readTrace(path, { skipInvalid });
        } catch (err) {
          expect(err).toBeInstanceOf(InputError);
          const message = (err as Error).message;
          const atLine = new RegExp(`^${escapeRegExp(path)}:\\d+: [^:\\s]+: \\S`);
          const empty = `${path}: empty trace`;
          expect(atLine.test(message) || message.startsWith(empty), message).toBe(true);
          if (skipInvalid) expect(message.startsWith(empty), message).toBe(true);
        }
      }),
      { numRuns: 150 },
    );
  });
});

describe('LmcacheLineParser on its own', () => {
  it('keeps no state from a line it rejects', async () => {
    const parser = new LmcacheLineParser('f.jsonl', 16, await loadTokenizer());
    const text = (timestamp: number, session: string) => JSON.stringify({ timestamp, input: 'a', output: '', session_id: session });
    expect(() => parser.parse({ line: 1, text: text(5, '') })).toThrow(InputError);
    expect(parser.parse({ line: 2, text: text(7, 's') })).toMatchObject({ id: 'lm-2', t: 0 }); // line 2 is the origin
    expect(parser.parse({ line: 3, text: text(6, 's') })).toMatchObject({ after: ['lm-2'] });
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

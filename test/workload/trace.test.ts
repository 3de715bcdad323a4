import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { InputError } from '../../src/errors.js';
import type { TraceRequest } from '../../src/types.js';
import { isRequestLine, requestSchema } from '../../src/workload/canonical.js';
import { isMooncakeLine, mooncakeSchema } from '../../src/workload/mooncake.js';
import {
  formatRequestJsonl,
  readLines,
  readTrace,
  streamTrace,
  writeTrace,
  type Line,
  type TraceStats,
} from '../../src/workload/trace.js';
import { requireTrace } from '../helpers/requirements.js';

const MOONCAKE = requireTrace('mooncake_conversation_trace.jsonl');
const FIXTURES = fileURLToPath(new URL('../fixtures/trace/', import.meta.url));
const CANONICAL_GOOD = join(FIXTURES, 'canonical-good.jsonl');
const MOONCAKE_CRLF = join(FIXTURES, 'mooncake-crlf.jsonl');

let dir: string;
let fileCount = 0;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kvflow-trace-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Writes `content` to a fresh file in the temporary directory and returns its path. */
async function tempFile(content: string | Buffer): Promise<string> {
  const path = join(dir, `t${fileCount++}.jsonl`);
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

async function collectLines(path: string): Promise<Line[]> {
  const lines: Line[] = [];
  for await (const line of readLines(path)) lines.push(line);
  return lines;
}

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

describe('readLines', () => {
  it('strips CR, skips blank lines, counts physical lines and reads a last line without newline', async () => {
    const path = await tempFile('a\r\n\n  \t\r\nb\nc');
    expect(await collectLines(path)).toEqual([
      { line: 1, text: 'a' },
      { line: 4, text: 'b' },
      { line: 5, text: 'c' },
    ]);
  });

  it('reads an empty file as no lines and drops a byte-order mark', async () => {
    expect(await collectLines(await tempFile(''))).toEqual([]);
    expect(await collectLines(await tempFile('\uFEFFx\n'))).toEqual([{ line: 1, text: 'x' }]);
  });

  it('joins lines split across chunks, including lines longer than a chunk and split UTF-8 characters', async () => {
    // 'x' shifts the two-byte characters to odd offsets, so chunk boundaries fall inside them.
    const long = 'x' + 'é'.repeat(700_000);
    const other = 'ü'.repeat(600_000);
    const path = await tempFile(`${long}\nshort\r\n${other}\n`);
    expect(await collectLines(path)).toEqual([
      { line: 1, text: long },
      { line: 2, text: 'short' },
      { line: 3, text: other },
    ]);
  });

  it('reports a missing file and a directory as InputError', async () => {
    const missing = join(dir, 'missing.jsonl');
    expect(await inputErrorOf(collectLines(missing))).toBe(`${missing}: no such file`);
    expect(await inputErrorOf(collectLines(dir))).toBe(`${dir}: not a file`);
  });
});

describe.skipIf(!MOONCAKE)('the real Mooncake conversation trace', () => {
  it('reads all 12,031 requests with the published totals', async () => {
    const trace = await readTrace(MOONCAKE);
    expect(trace.format).toBe('mooncake');
    expect(trace.skipped).toBe(0);
    expect(trace.requests).toHaveLength(12_031);
    const { requests } = trace;
    expect(sum(requests.map((r) => r.blocks.length))).toBe(288_500);
    expect(new Set(requests.flatMap((r) => r.blocks)).size).toBe(182_790);
    expect(sum(requests.map((r) => r.inputLength))).toBe(144_793_823);
    expect(sum(requests.map((r) => r.outputLength))).toBe(4_122_048);
    expect(requests[0]).toEqual({
      id: 'mc-1',
      t: 0,
      blocks: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13],
      blockSize: 512,
      inputLength: 6758,
      outputLength: 500,
    });
    expect(requests[1]?.blocks.slice(0, 3)).toEqual([0, 14, 15]);
    expect(requests.at(-1)).toMatchObject({ id: 'mc-12031', t: 3536.999 });
  });

  it('streams the same requests', async () => {
    const stats: TraceStats = { format: undefined, skipped: 0 };
    let count = 0;
    for await (const request of streamTrace(MOONCAKE, { stats })) {
      if (count === 0) expect(request.id).toBe('mc-1');
      count++;
    }
    expect(count).toBe(12_031);
    expect(stats).toEqual({ format: 'mooncake', skipped: 0 });
  });

  it('survives a canonical round trip', async () => {
    const original = await readTrace(MOONCAKE);
    const path = join(dir, 'mooncake-canonical.jsonl');
    await writeTrace(path, original.requests);
    const copy = await readTrace(path);
    expect(copy.format).toBe('kvflow');
    expect(copy.requests).toEqual(original.requests);
  });
});

describe('canonical reader', () => {
  it('reads the header, closed-loop requests, per-line block sizes and ignores unknown fields', async () => {
    const trace = await readTrace(CANONICAL_GOOD);
    expect(trace).toEqual({
      path: CANONICAL_GOOD,
      format: 'kvflow',
      skipped: 0,
      requests: [
        {
          id: 'w0-planner',
          t: 0,
          workflow: 'w0',
          agent: 'planner',
          blocks: [1, 2, 3],
          blockSize: 4,
          inputLength: 10,
          outputLength: 5,
          fixedBlocks: 2,
        },
        {
          id: 'w0-coder',
          after: ['w0-planner'],
          think: 0.5,
          workflow: 'w0',
          agent: 'coder',
          blocks: [1, 2, 7, 8],
          blockSize: 4,
          inputLength: 16,
          outputLength: 0,
        },
        { id: 'solo', t: 1.25, blocks: [9], blockSize: 32, inputLength: 1, outputLength: 3 },
      ],
    });
  });

  it('takes the default block size from the header, else the option, else 16', async () => {
    const line = '{"id": "a", "t": 0, "blocks": [1, 2], "input_length": 40, "output_length": 1}';
    const plain = await tempFile(line);
    const message = await inputErrorOf(readTrace(plain));
    expect(message).toMatch(/:1: input_length: expected 17\.\.32 for 2 blocks of 16 tokens/);
    expect((await readTrace(plain, { blockSize: 32 })).requests[0]?.blockSize).toBe(32);
    const withHeader = await tempFile(`{"kvflow_trace": 1, "block_size": 24}\n${line}`);
    expect((await readTrace(withHeader, { blockSize: 32 })).requests[0]?.blockSize).toBe(24);
  });

  it('accepts input_length exactly at both ends of the last block', async () => {
    const line = (n: number) => `{"id": "r${n}", "t": 0, "blocks": [1, 2], "input_length": ${n}, "output_length": 0}`;
    const trace = await readTrace(await tempFile([line(17), line(32)].join('\n')));
    expect(trace.requests.map((r) => r.inputLength)).toEqual([17, 32]);
  });
});

describe('Mooncake reader', () => {
  it('accepts CRLF line ends and a file without final newline', async () => {
    const trace = await readTrace(MOONCAKE_CRLF);
    expect(trace.format).toBe('mooncake');
    expect(trace.requests).toEqual([
      { id: 'mc-1', t: 0, blocks: [0], blockSize: 512, inputLength: 512, outputLength: 7 },
      { id: 'mc-2', t: 1.5, blocks: [0, 1], blockSize: 512, inputLength: 513, outputLength: 0 },
      { id: 'mc-4', t: 1.5, blocks: [5], blockSize: 512, inputLength: 1, outputLength: 2 },
    ]);
  });
});

describe('bad input', () => {
  /** A valid Mooncake line, then a valid canonical line, each with extra fields appended. */
  const mc = (fields: string) =>
    `{"timestamp": 0, "input_length": 600, "output_length": 1, "hash_ids": [0, 1]${fields}}`;
  const kv = (fields: string) => `{"id": "a", "t": 0, "blocks": [1], "input_length": 5, "output_length": 1${fields}}`;
  const moonFirst = '{"timestamp": 0, "input_length": 1, "output_length": 1, "hash_ids": [0]}';

  /** [case, file content, expected message after `<path>:`] */
  const cases: [string, string, string][] = [
    [
      'missing field (kvflow)',
      '{"id": "a", "t": 0, "blocks": [1], "output_length": 1}',
      '1: input_length: missing, expected an integer >= 1',
    ],
    [
      'missing field (mooncake)',
      `${moonFirst}\n{"timestamp": 0, "input_length": 1, "hash_ids": [0]}`,
      '2: output_length: missing, expected a non-negative integer',
    ],
    [
      'wrong type: string for number',
      kv(', "think": "1"'),
      '1: think: expected a number >= 0, got "1"',
    ],
    [
      'wrong type: string for array',
      `${moonFirst}\n{"timestamp": 0, "input_length": 1, "output_length": 1, "hash_ids": "0"}`,
      '2: hash_ids: expected a non-empty array of block ids, got "0"',
    ],
    [
      'wrong type: null',
      kv(', "agent": null'),
      '1: agent: expected a string, got null',
    ],
    [
      'wrong type: not an object',
      '[1, 2]',
      '1: (root): expected a JSON object, got an array',
    ],
    [
      'negative length',
      mc('').replace('"output_length": 1', '"output_length": -1'),
      '1: output_length: expected a non-negative integer, got -1',
    ],
    [
      'negative block id',
      kv('').replace('[1]', '[1, -1]').replace('5,', '17,'),
      '1: blocks.1: expected a non-negative integer, got -1',
    ],
    [
      'non-integer length',
      mc('').replace('600', '600.5'),
      '1: input_length: expected an integer >= 1, got 600.5',
    ],
    [
      'block id beyond safe integers',
      kv('').replace('[1]', '[9007199254740993]'),
      '1: blocks.0: expected a non-negative integer, got 9007199254740992',
    ],
    [
      'empty blocks',
      kv('').replace('[1]', '[]'),
      '1: blocks: expected a non-empty array of block ids, got an empty array',
    ],
    [
      'hash_ids count mismatch',
      mc('').replace('[0, 1]', '[0, 1, 2]'),
      '1: hash_ids: expected 2 ids (one per 512 tokens of input_length 600), got 3',
    ],
    [
      'timestamp backwards',
      `${mc('').replace('"timestamp": 0', '"timestamp": 5')}\n\n${mc('')}`,
      '3: timestamp: goes backwards: 0 ms after 5 ms on line 1',
    ],
    [
      'neither t nor after',
      '{"id": "a", "blocks": [1], "input_length": 5, "output_length": 1}',
      '1: t: missing, expected a number >= 0 (required unless "after" is given)',
    ],
    [
      'after names an unknown id',
      kv(', "after": ["a0"]'),
      '1: after.0: unknown id "a0": must be the id of an earlier line',
    ],
    [
      'after names a later line',
      `${kv(', "after": ["b"]')}\n${kv('').replace('"a"', '"b"')}`,
      '1: after.0: unknown id "b": must be the id of an earlier line',
    ],
    [
      'duplicate id',
      `${kv('')}\n${kv('')}`,
      '2: id: duplicate id "a", first used on line 1',
    ],
    [
      'input_length beyond the last block',
      kv('').replace('5,', '17,'),
      '1: input_length: expected 1..16 for 1 block of 16 tokens (all blocks full but the last, which holds 1..16), got 17',
    ],
    [
      'input_length leaves the last block empty',
      kv('').replace('[1]', '[1, 2]').replace('5,', '16,'),
      '1: input_length: expected 17..32 for 2 blocks of 16 tokens (all blocks full but the last, which holds 1..16), got 16',
    ],
    [
      'fixed_blocks beyond the blocks',
      kv(', "fixed_blocks": 2'),
      '1: fixed_blocks: expected at most 1 (the number of blocks), got 2',
    ],
    [
      'header on a later line',
      `${kv('')}\n{"kvflow_trace": 1, "block_size": 4}`,
      '2: kvflow_trace: a header is only allowed on the first line',
    ],
    [
      'unknown header version',
      '{"kvflow_trace": 2, "block_size": 4}',
      '1: kvflow_trace: expected 1 (the format version), got 2',
    ],
    [
      'bad header block size',
      '{"kvflow_trace": 1, "block_size": 0}',
      '1: block_size: expected an integer >= 1, got 0',
    ],
  ];

  it.each(cases)('%s', async (_name, content, expected) => {
    const path = await tempFile(content);
    expect(await inputErrorOf(readTrace(path))).toBe(`${path}:${expected}`);
  });

  it('bad JSON names the (json) field and the parser message', async () => {
    const path = await tempFile(`${moonFirst}\n{"timestamp": 0,`);
    const message = await inputErrorOf(readTrace(path));
    expect(message).toMatch(new RegExp(`^${escapeRegExp(path)}:2: \\(json\\): invalid JSON: \\S`));
  });

  it('an empty, blank or header-only file is an empty trace', async () => {
    for (const content of ['', '\n \r\n\n', '{"kvflow_trace": 1, "block_size": 4}\n']) {
      const path = await tempFile(content);
      expect(await inputErrorOf(readTrace(path))).toBe(`${path}: empty trace`);
    }
  });

  it('a missing file or a directory is one line naming the path', async () => {
    const missing = join(dir, 'nope', 'trace.jsonl');
    expect(await inputErrorOf(readTrace(missing))).toBe(`${missing}: no such file`);
    expect(await inputErrorOf(readTrace(dir))).toBe(`${dir}: not a file`);
  });

  it('a forced format reads lines as that format', async () => {
    expect(await inputErrorOf(readTrace(MOONCAKE_CRLF, { format: 'kvflow' }))).toBe(
      `${MOONCAKE_CRLF}:1: id: missing, expected a non-empty string`,
    );
    expect(await inputErrorOf(readTrace(CANONICAL_GOOD, { format: 'mooncake' }))).toBe(
      `${CANONICAL_GOOD}:1: timestamp: missing, expected a non-negative integer`,
    );
  });

  it('bad options are input errors', async () => {
    expect(await inputErrorOf(readTrace(CANONICAL_GOOD, { blockSize: 0 }))).toBe(
      'block size: expected an integer >= 1, got 0',
    );
    const format = 'csv' as unknown as 'auto';
    expect(await inputErrorOf(readTrace(CANONICAL_GOOD, { format }))).toBe(
      'format: expected one of auto, kvflow, mooncake, azure, lmcache, servingsim, got "csv"',
    );
  });
});

describe('skipInvalid', () => {
  it('skips and counts invalid lines instead of throwing', async () => {
    const ok = (t: number) => `{"timestamp": ${t}, "input_length": 1, "output_length": 1, "hash_ids": [${t}]}`;
    const lines = [ok(1), '{"timestamp": ', ok(2), ok(0), ok(3).replace('[3]', '[-3]'), ok(4)];
    const path = await tempFile(lines.join('\n'));
    expect(await inputErrorOf(readTrace(path))).toMatch(/:2: \(json\)/);
    const trace = await readTrace(path, { skipInvalid: true });
    expect(trace.skipped).toBe(3);
    expect(trace.requests.map((r) => r.id)).toEqual(['mc-1', 'mc-3', 'mc-6']);
  });

  it('a request after a skipped one is skipped too', async () => {
    const lines = [
      '{"id": "a", "t": 0, "blocks": [1], "input_length": 99, "output_length": 1}',
      '{"id": "b", "after": ["a"], "blocks": [1], "input_length": 1, "output_length": 1}',
      '{"id": "c", "t": 1, "blocks": [1], "input_length": 1, "output_length": 1}',
    ];
    const stats: TraceStats = { format: undefined, skipped: 0 };
    const ids: string[] = [];
    for await (const request of streamTrace(await tempFile(lines.join('\n')), { skipInvalid: true, stats })) {
      ids.push(request.id);
    }
    expect(ids).toEqual(['c']);
    expect(stats).toEqual({ format: 'kvflow', skipped: 2 });
  });

  it('a damaged first line does not decide the format', async () => {
    const mooncake = (await readFile(MOONCAKE_CRLF, 'utf8')).split('\r\n');
    const path = await tempFile(['{"timestamp": 0, "inpu', ...mooncake].join('\n'));
    const trace = await readTrace(path, { skipInvalid: true });
    expect(trace.format).toBe('mooncake');
    expect(trace.skipped).toBe(1);
    expect(trace.requests.map((r) => r.id)).toEqual(['mc-2', 'mc-3', 'mc-5']);
  });

  it('a header may follow skipped lines', async () => {
    const lines = [
      '[]',
      '{"kvflow_trace": 1, "block_size": 4}',
      '{"id": "a", "t": 0, "blocks": [1], "input_length": 4, "output_length": 0}',
    ];
    const path = await tempFile(lines.join('\n'));
    const trace = await readTrace(path, { skipInvalid: true, format: 'kvflow' });
    expect(trace.requests[0]?.blockSize).toBe(4);
    expect(trace.skipped).toBe(1);
  });

  it('a file of only invalid lines is still an empty trace', async () => {
    const path = await tempFile('nonsense\n{"id": 1}\n');
    expect(await inputErrorOf(readTrace(path, { skipInvalid: true }))).toBe(
      `${path}: empty trace (2 invalid lines skipped)`,
    );
  });
});

/** Everything random about one valid request; `buildRequest` makes it consistent with its index. */
const requestDraftArb = fc.record({
  t: fc.option(fc.double({ min: 0, max: 1e9, noNaN: true }), { nil: undefined }),
  dependsOn: fc.array(fc.nat(), { maxLength: 3 }),
  think: fc.option(fc.double({ min: 0, max: 100, noNaN: true }), { nil: undefined }),
  workflow: fc.option(fc.string(), { nil: undefined }),
  agent: fc.option(fc.string(), { nil: undefined }),
  blocks: fc.array(fc.oneof(fc.nat(), fc.maxSafeNat()), { minLength: 1, maxLength: 20 }),
  blockSize: fc.integer({ min: 1, max: 1024 }),
  lastBlockFill: fc.double({ min: 0, max: 1, noNaN: true }),
  outputLength: fc.nat(),
  fixedFraction: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: undefined }),
});

type RequestDraft = typeof requestDraftArb extends fc.Arbitrary<infer D> ? D : never;

function buildRequest(draft: RequestDraft, index: number): TraceRequest {
  const { blocks, blockSize } = draft;
  const lastBlockTokens = Math.max(1, Math.ceil(draft.lastBlockFill * blockSize));
  const request: TraceRequest = {
    id: `r${index}`,
    blocks,
    blockSize,
    inputLength: (blocks.length - 1) * blockSize + lastBlockTokens,
    outputLength: draft.outputLength,
  };
  const after = index === 0 ? [] : draft.dependsOn.map((n) => `r${n % index}`);
  if (after.length > 0) request.after = after;
  // `+ 0` turns -0 into 0: JSON has no negative zero.
  if (draft.t !== undefined || after.length === 0) request.t = (draft.t ?? 0) + 0;
  if (draft.think !== undefined) request.think = draft.think + 0;
  if (draft.workflow !== undefined) request.workflow = draft.workflow;
  if (draft.agent !== undefined) request.agent = draft.agent;
  if (draft.fixedFraction !== undefined) request.fixedBlocks = Math.floor(draft.fixedFraction * blocks.length);
  return request;
}

describe('canonical writer', () => {
  it('writes one line with snake_case keys in a fixed order and no absent fields', () => {
    const full: TraceRequest = {
      blocks: [4, 5],
      fixedBlocks: 1,
      outputLength: 2,
      inputLength: 20,
      blockSize: 16,
      agent: 'coder',
      workflow: 'w1',
      think: 0.25,
      after: ['x', 'y'],
      t: 3,
      id: 'r1',
    };
    expect(formatRequestJsonl(full)).toBe(
      '{"id":"r1","t":3,"after":["x","y"],"think":0.25,"workflow":"w1","agent":"coder","block_size":16,' +
        '"input_length":20,"output_length":2,"fixed_blocks":1,"blocks":[4,5]}',
    );
    expect(formatRequestJsonl({ id: 'r2', t: 0, blocks: [7], blockSize: 16, inputLength: 1, outputLength: 0 })).toBe(
      '{"id":"r2","t":0,"block_size":16,"input_length":1,"output_length":0,"blocks":[7]}',
    );
  });

  it('round-trips the fixture', async () => {
    const original = await readTrace(CANONICAL_GOOD);
    const path = join(dir, 'fixture-copy.jsonl');
    await writeTrace(path, original.requests);
    expect((await readTrace(path)).requests).toEqual(original.requests);
    expect((await readFile(path, 'utf8')).split('\n')).toHaveLength(original.requests.length + 1);
  });

  it('round-trips arbitrary valid requests', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(requestDraftArb, { minLength: 1, maxLength: 12 }), async (drafts) => {
        const requests = drafts.map(buildRequest);
        const path = join(dir, 'roundtrip.jsonl');
        await writeTrace(path, requests);
        expect((await readTrace(path)).requests).toEqual(requests);
      }),
      { numRuns: 100 },
    );
  });
});

describe('quick checks agree with the zod schemas', () => {
  const anyJson = fc.constantFrom<unknown>(
    null, true, -1, -0, 0, 1, 1.5, 2 ** 53, 1e308, Infinity, '', 'x', [], [0], [1, 2], [-1], [0.5], ['a'], [''], {},
  );
  const field = (valid: fc.Arbitrary<unknown>) =>
    fc.oneof(
      { arbitrary: valid, weight: 6 },
      { arbitrary: anyJson, weight: 1 },
      { arbitrary: fc.constant(undefined), weight: 1 },
    );
  const blocks = fc.array(fc.nat(), { minLength: 1, maxLength: 4 });
  /** Objects whose fields are each missing, valid or of any JSON shape, or not an object at all. A
   * JSON round trip makes them what `JSON.parse` gives: no undefined fields, no -0, no Infinity. */
  const objectOf = (fields: Record<string, fc.Arbitrary<unknown>>) =>
    fc
      .oneof({ arbitrary: fc.record(fields), weight: 9 }, { arbitrary: anyJson, weight: 1 })
      .map((value) => (typeof value === 'object' && value !== null ? asParsedJson(value) : value));
  const asParsedJson = (value: object) => JSON.parse(JSON.stringify(value)) as unknown;

  /** Asserts the quick check and the schema agree on every value, and that both accept some. */
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

  it('canonical request lines', () => {
    const requestLike = objectOf({
      id: field(fc.string()),
      t: field(fc.double({ min: 0, max: 1e6, noNaN: true })),
      after: field(fc.array(fc.string(), { maxLength: 2 })),
      think: field(fc.nat()),
      workflow: field(fc.string()),
      agent: field(fc.string()),
      blocks: field(blocks),
      block_size: field(fc.integer({ min: -1, max: 64 })),
      input_length: field(fc.integer({ min: -1, max: 64 })),
      output_length: field(fc.integer({ min: -1, max: 64 })),
      fixed_blocks: field(fc.integer({ min: -1, max: 4 })),
    });
    expectAgreement(requestLike, isRequestLine, requestSchema());
  });

  it('Mooncake lines', () => {
    const mooncakeLike = objectOf({
      timestamp: field(fc.integer({ min: -1, max: 1e6 })),
      input_length: field(fc.integer({ min: -1, max: 2048 })),
      output_length: field(fc.integer({ min: -1, max: 2048 })),
      hash_ids: field(blocks),
    });
    expectAgreement(mooncakeLike, isMooncakeLine, mooncakeSchema());
  });
});

describe.skipIf(!MOONCAKE)('fuzz: mutated Mooncake lines', () => {
  /** JSON fragments of the wrong type or range for some Mooncake field ('[0]' and '100000' break
   * the hash_ids count). */
  const BAD_VALUES = [
    ...['"x"', 'null', '[]', '{}', '-1', '1.5', '1e400', 'true', '[1, "a"]', '9007199254740993', '[-1]'],
    ...['[0]', '100000'],
  ];
  const KEYS = ['timestamp', 'input_length', 'output_length', 'hash_ids'];

  /** A line with one field replaced by a raw JSON fragment, or dropped when `fragment` is undefined. */
  function withField(line: string, key: string, fragment: string | undefined): string {
    const fields = JSON.parse(line) as Record<string, unknown>;
    const parts = Object.keys(fields).flatMap((k) => {
      if (k !== key) return [`"${k}": ${JSON.stringify(fields[k])}`];
      return fragment === undefined ? [] : [`"${k}": ${fragment}`];
    });
    return `{${parts.join(', ')}}`;
  }

  const mutationArb = fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) }),
    fc.record({
      kind: fc.constant('retype' as const),
      line: fc.nat(),
      key: fc.constantFrom(...KEYS),
      fragment: fc.option(fc.constantFrom(...BAD_VALUES), { nil: undefined }),
    }),
    fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
    fc.record({ kind: fc.constant('swap' as const), a: fc.nat(), b: fc.nat() }), // timestamps go backwards
  );

  it('reading either succeeds or throws InputError naming file and line', async () => {
    const text = await readFile(MOONCAKE, 'utf8');
    const sample = text.split('\n').slice(0, 30);
    await fc.assert(
      fc.asyncProperty(fc.array(mutationArb, { minLength: 1, maxLength: 4 }), fc.boolean(), async (mutations, skipInvalid) => {
        const lines = [...sample];
        let bytes = Buffer.from(lines.join('\n'));
        for (const m of mutations) {
          if (m.kind === 'retype') {
            const i = m.line % lines.length;
            lines[i] = withField(lines[i] ?? '{}', m.key, m.fragment);
            bytes = Buffer.from(lines.join('\n'));
          } else if (m.kind === 'swap') {
            const [a, b] = [m.a % lines.length, m.b % lines.length];
            [lines[a], lines[b]] = [lines[b] ?? '', lines[a] ?? ''];
            bytes = Buffer.from(lines.join('\n'));
          } else if (m.kind === 'flip') {
            const at = m.at % bytes.length;
            bytes[at] = (bytes[at] ?? 0) ^ m.xor;
          } else {
            bytes = bytes.subarray(0, m.at % (bytes.length + 1));
          }
        }
        const path = join(dir, 'fuzz.jsonl');
        await writeFile(path, bytes);
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
      { numRuns: 300 },
    );
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * `kvflow trace` (convert, validate, stats) end to end on the built command, and the library functions
 * behind it: stats agree with replay at unbounded capacity, conversions read back as the same requests.
 */
import { policyFactory } from '../../src/cache/policy-registry.js';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replaySuite } from '../../src/replay/replay-suite.js';
import type { Trace, TraceRequest } from '../../src/types.js';
import { readTrace } from '../../src/workload/read.js';
import { traceStats } from '../../src/workload/stats.js';
import { writeTrace } from '../../src/workload/write.js';
import { expectJsonDocument, expectUsageError, keysOf, kvflow, type CliRun } from '../helpers/cli.js';
import { requireTrace } from '../helpers/requirements.js';

const MOONCAKE = requireTrace('mooncake_conversation_trace.jsonl');
const MINISWE = requireTrace('lmcache_agent_miniswe.jsonl');
const AZURE_CODE = requireTrace('azure_llm_2023_code.csv');
const SERVINGSIM = fileURLToPath(new URL('../fixtures/importers/servingsim-sessions.jsonl', import.meta.url));
const HAVE_TRACES = [MOONCAKE, MINISWE, AZURE_CODE].every(Boolean);

/** `kvflow trace stats --json` keys (the JSON contract). */
const STATS_KEYS = [
  'path',
  'format',
  'skippedLines',
  'requests',
  'emptyPrompts',
  'sessions',
  'blockSize',
  'inputTokens',
  'outputTokens',
  'pages',
  'distinctPages',
  'hitTokens',
  'reuseCeiling',
  'reuseDistance',
  'sessionSummaries',
].sort();
const SESSION_KEYS = ['session', 'requests', 'inputTokens', 'outputTokens', 'pages', 'hitTokens', 'hitRate'].sort();

let dir: string;
let fileCount = 0;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kvflow-trace-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs `kvflow trace ...args`. */
const runTrace = (args: string[]): Promise<CliRun> => kvflow(['trace', ...args]);

async function tempFile(content: string, extension = 'jsonl'): Promise<string> {
  const path = join(dir, `t${fileCount++}.${extension}`);
  await writeFile(path, content);
  return path;
}

/** The hit tokens of a replay at unbounded capacity: the number stats must reproduce. */
function unboundedHitTokens(trace: Trace): number {
  return replaySuite(trace, { policies: [policyFactory('lru')], capacities: [null] }).results[0]!.hitTokens;
}

const request = (id: string, blocks: number[], extra: Partial<TraceRequest> = {}): TraceRequest => ({
  id,
  t: 0,
  blocks,
  blockSize: 4,
  inputLength: blocks.length * 4,
  outputLength: 1,
  ...extra,
});

const traceOf = (requests: TraceRequest[]): Trace => ({ path: 'hand.jsonl', format: 'kvflow', requests, skipped: 0 });

describe('traceStats', () => {
  it('counts pages by path, reuse distances in replay order, and sessions', () => {
    const report = traceStats(
      traceOf([
        request('a', [1, 2, 3], { workflow: 'w' }),
        request('b', [1, 2, 9], { workflow: 'w', inputLength: 10 }), // last block holds 2 tokens
        request('c', [7], { workflow: 'v' }),
        request('d', [2, 3]), // block ids seen before, but under another parent: new pages
        request('e', [1, 2, 3], { workflow: 'v' }),
      ]),
    );
    expect(report).toMatchObject({
      requests: 5,
      sessions: 2,
      blockSize: 4,
      inputTokens: 12 + 10 + 4 + 8 + 12,
      outputTokens: 5,
      pages: 3 + 3 + 1 + 2 + 3,
      distinctPages: 3 + 1 + 1 + 2,
      hitTokens: 8 + 12, // b hits [1, 2]; e hits all of [1, 2, 3]
    });
    expect(report.reuseCeiling).toBeCloseTo(20 / 46, 12);
    // Reuses: b's pages 1 and 1.2 at distance 1; e's pages 1 and 1.2 at distance 3, page 1.2.3 at 4.
    expect(report.reuseDistance).toEqual({
      firstUses: 7,
      buckets: [
        { min: 1, max: 1, count: 2 },
        { min: 2, max: 3, count: 2 },
        { min: 4, max: 7, count: 1 },
      ],
    });
    expect(report.sessionSummaries).toEqual([
      { session: 'w', requests: 2, inputTokens: 22, outputTokens: 2, pages: 6, hitTokens: 8, hitRate: 8 / 22 },
      { session: 'v', requests: 2, inputTokens: 16, outputTokens: 2, pages: 4, hitTokens: 12, hitRate: 12 / 16 },
    ]);
  });

  it('replays in replay order: a stable sort by t when every request has one', () => {
    const report = traceStats(traceOf([request('late', [1, 2], { t: 5 }), request('early', [1], { t: 1 })]));
    expect(report.hitTokens).toBe(4); // "late" runs second and hits the page "early" made
  });

  it.skipIf(!HAVE_TRACES)('gives the hit tokens of replay at unbounded capacity on real traces of every format', async () => {
    const traces = [
      await readTrace(MOONCAKE),
      await readTrace(MINISWE),
      await readTrace(AZURE_CODE),
      await readTrace(SERVINGSIM),
    ];
    for (const trace of traces) expect(traceStats(trace).hitTokens, trace.path).toBe(unboundedHitTokens(trace));
    expect(traceStats(traces[2]!).hitTokens).toBe(0); // Azure shares nothing
  });
});

describe.skipIf(!HAVE_TRACES)('kvflow trace stats', () => {
  it('Mooncake --json: the published totals and the reuse ceiling of replay --capacity inf', async () => {
    const [stats, replay] = await Promise.all([
      runTrace(['stats', MOONCAKE, '--json']),
      kvflow(['replay', '--trace', MOONCAKE, '--capacity', 'inf', '--policy', 'lru', '--json']),
    ]);
    const report = expectJsonDocument(stats) as Record<string, unknown>;
    expect(keysOf(report)).toEqual(STATS_KEYS);
    expect(report).toMatchObject({
      format: 'mooncake',
      requests: 12_031,
      sessions: 0,
      blockSize: 512,
      inputTokens: 144_793_823,
      pages: 288_500,
      distinctPages: 182_790,
      sessionSummaries: [],
    });
    const replayed = (expectJsonDocument(replay) as { results: { hitRate: number; hitTokens: number }[] }).results[0]!;
    expect(report.reuseCeiling).toBe(replayed.hitRate);
    expect(report.hitTokens).toBe(replayed.hitTokens);
    expect(report.reuseCeiling).toBeCloseTo(0.3736, 4);
    const { firstUses, buckets } = report.reuseDistance as { firstUses: number; buckets: { count: number }[] };
    expect(firstUses + buckets.reduce((sum, b) => sum + b.count, 0)).toBe(288_500);
  });

  it('the table: totals, reuse distances, sessions', async () => {
    const run = await runTrace(['stats', MINISWE]);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/│ requests\s+│ 242\s+│/);
    expect(run.stdout).toMatch(/│ sessions\s+│ 12\s+│/);
    expect(run.stdout).toMatch(/│ reuse ceiling\s+│ \d+\.\d\d% \(/);
    expect(run.stdout).toContain('reuse distance (requests)');
    expect(run.stdout).toContain('d80534b26b1c83c2c3bcf6be4ca2eb0e');
  });

  it('lists the 20 largest sessions in the table and all of them in --json', async () => {
    const requests = Array.from({ length: 25 }, (_, i) =>
      Array.from({ length: i + 1 }, (_, k) => request(`w${i}-${k}`, [i, k], { workflow: `w${i}` })),
    ).flat();
    const path = join(dir, 'sessions.jsonl');
    await writeTrace(path, requests);
    const table = await runTrace(['stats', path]);
    expect(table.stdout).toContain('│ w24 ');
    expect(table.stdout).toContain('│ w5 ');
    expect(table.stdout).not.toContain('│ w4 ');
    expect(table.stdout).toContain('(5 more sessions in --json)');
    const report = expectJsonDocument(await runTrace(['stats', path, '--json'])) as { sessionSummaries: unknown[] };
    expect(report.sessionSummaries).toHaveLength(25);
    expect(keysOf(report.sessionSummaries[0])).toEqual(SESSION_KEYS);
    expect(report.sessionSummaries[0]).toMatchObject({ session: 'w24', requests: 25 });
  });

  it('--skip-invalid reads past bad lines and counts them', async () => {
    const lines = (await readFile(SERVINGSIM, 'utf8')).trimEnd().split('\n');
    const path = await tempFile([lines[0], '{"broken', lines[1]].join('\n'));
    expectUsageError(await runTrace(['stats', path]), `${path}:2: (json): invalid JSON`);
    const report = expectJsonDocument(await runTrace(['stats', path, '--skip-invalid', '--json']));
    expect(report).toMatchObject({ format: 'servingsim', skippedLines: 1, requests: 5, sessions: 2 });
  });
});

describe('kvflow trace validate', () => {
  it('lists every problem on stderr in file order, then a summary, and exits 2', async () => {
    const content = [
      'TIMESTAMP,ContextTokens,GeneratedTokens',
      '2023-11-16 18:17:03.9799600,4808,10',
      '2023-11-16 18:17:02,5,5',
      '2023-11-16 18:17:04,x,5',
      '2023-11-16 18:17:05,5',
      '2023-11-16 18:17:06,5,5',
    ].join('\r\n');
    const path = await tempFile(content, 'csv');
    const run = await runTrace(['validate', path]);
    expect(run.status).toBe(2);
    expect(run.stderr.split('\n')).toEqual([
      `${path}:3: TIMESTAMP: goes backwards: 2023-11-16 18:17:02 after 2023-11-16 18:17:03.9799600 on line 2`,
      `${path}:4: ContextTokens: expected an integer >= 1, got "x"`,
      `${path}:5: GeneratedTokens: missing (the row has 2 of 3 columns)`,
      '',
    ]);
    expect(run.stdout).toBe(`${path}: azure, 2 requests, 3 problems\n`);
  });

  it('a valid trace: a summary, nothing on stderr, exit 0', async () => {
    const run = await runTrace(['validate', SERVINGSIM]);
    expect(run).toEqual({ status: 0, stdout: `${SERVINGSIM}: servingsim, 6 requests, valid\n`, stderr: '' });
  });

  it('an empty trace is a problem; a missing file or a bad flag is a usage error', async () => {
    const empty = await tempFile('\n\n');
    expect(await runTrace(['validate', empty])).toEqual({
      status: 2,
      stdout: `${empty}: 0 requests, 1 problem\n`,
      stderr: `${empty}: empty trace\n`,
    });
    const missing = join(dir, 'missing.jsonl');
    expectUsageError(await runTrace(['validate', missing]), `kvflow: ${missing}: no such file`);
    expectUsageError(await runTrace(['validate', SERVINGSIM, '--format', 'csv']), 'unknown "csv"', 'servingsim');
  });
});

describe('kvflow trace convert', () => {
  it('writes a header and canonical lines to stdout that read back as the same requests', async () => {
    const run = await runTrace(['convert', SERVINGSIM, '--from', 'servingsim', '--to', 'kvflow']);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stderr).toBe('');
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('{"kvflow_trace":1,"block_size":16}');
    expect(lines).toHaveLength(7);
    const path = await tempFile(run.stdout);
    const converted = await readTrace(path);
    expect(converted.format).toBe('kvflow');
    expect(converted.requests).toEqual((await readTrace(SERVINGSIM)).requests);
  });

  it.skipIf(!HAVE_TRACES)('--out: every format converts and reads back as the original', async () => {
    for (const [source, blockSize] of [
      [AZURE_CODE, '32'],
      [MINISWE, '16'],
      [MOONCAKE, '16'], // Mooncake keeps its 512-token blocks whatever the flag
    ] as const) {
      const out = join(dir, `converted-${fileCount++}.jsonl`);
      // cl100k_base loads in a tenth of the time of a model tokenizer; this test is about conversion.
      const run = await runTrace(['convert', source, '--out', out, '--block-size', blockSize, '--tokenizer', 'cl100k_base']);
      expect(run.status, run.stderr).toBe(0);
      expect(run.stdout).toMatch(new RegExp(`^${escapeRegExp(out)}: [\\d,]+ requests from \\w+ to kvflow\\n$`));
      const original = await readTrace(source, { blockSize: Number(blockSize), tokenizer: 'cl100k_base' });
      const converted = await readTrace(out);
      expect(converted.requests).toEqual(original.requests);
    }
  });

  it('an invalid line stops it with exit 2 and leaves no output file; --skip-invalid says what it skipped', async () => {
    const lines = (await readFile(SERVINGSIM, 'utf8')).trimEnd().split('\n');
    const path = await tempFile([lines[0], '[]', lines[1]].join('\n'));
    const out = join(dir, 'never.jsonl');
    expectUsageError(await runTrace(['convert', path, '--out', out]), `${path}:2: (root): expected a JSON object, got an empty array`);
    expect(existsSync(out)).toBe(false);
    const run = await runTrace(['convert', path, '--out', out, '--skip-invalid']);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toBe(`${out}: 5 requests from servingsim to kvflow, 1 invalid line skipped\n`);
    expect((await readTrace(out)).requests).toHaveLength(5);
  });

  it('rejects a target format other than kvflow', async () => {
    expectUsageError(await runTrace(['convert', SERVINGSIM, '--to', 'mooncake']), 'unknown "mooncake"');
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

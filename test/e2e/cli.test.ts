import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateRequests } from '../../src/workload/generate.js';
import { loadWorkflowSpec } from '../../src/workload/spec.js';
import { writeTrace } from '../../src/workload/trace.js';
import { expectJsonDocument, expectUsageError, keysOf, kvflow, type CliRun } from '../helpers/cli.js';
import { REPO } from '../helpers/sim.js';
import { requireTrace } from '../helpers/requirements.js';

const MOONCAKE = requireTrace('mooncake_conversation_trace.jsonl');
/** Any readable trace, for flag errors found before the trace is read. */
const SMALL_TRACE = 'test/fixtures/trace/canonical-good.jsonl';
const PAPER_1024 = 'workloads/paper/sequential-1024.json';

/** `kvflow replay --json` result fields (the JSON contract). */
const REPLAY_RESULT_KEYS = ['policy', 'capacityTokens', 'requests', 'inputTokens', 'hitTokens', 'hitRate', 'evictions', 'seconds'];
/** `kvflow simulate --json` result fields (the JSON contract). */
const SIM_RESULT_KEYS = [
  'setup',
  'requests',
  'workflows',
  'makespan',
  'workflowLatency',
  'e2e',
  'ttft',
  'tpot',
  'gpuHitRate',
  'cpuHitRate',
  'recomputedTokens',
  'loadedTokens',
  'prefetchedTokens',
  'wastedPrefetchTokens',
  'stallSeconds',
  'linkUtilization',
  'speedup',
  'warm',
  'all',
];
const LATENCY_KEYS = ['mean', 'p50', 'p90', 'p99'];

interface ReplayDoc {
  trace: Record<string, unknown>;
  results: Record<string, unknown>[];
}
interface SimDoc {
  config: Record<string, unknown>;
  results: Record<string, unknown>[];
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kvflow-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

let files = 0;
/** Writes a fresh file (tests run concurrently, so names never repeat). */
async function tempFile(name: string, text: string): Promise<string> {
  const path = join(dir, `${++files}-${name}`);
  await writeFile(path, text);
  return path;
}

/** A small canonical trace whose second line has a non-numeric input_length. */
async function traceWithBadLine(): Promise<string> {
  return tempFile(
    'bad-line.jsonl',
    [
      '{"id":"a","t":0,"blocks":[1,2],"input_length":20,"output_length":2}',
      '{"id":"b","t":1,"blocks":[1,2],"input_length":"x","output_length":2}',
      '{"id":"c","t":2,"blocks":[1,3],"input_length":32,"output_length":2}',
    ].join('\n') + '\n',
  );
}

describe('kvflow --help', () => {
  it('exits 0 and lists replay and simulate', async () => {
    const run = await kvflow(['--help']);
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^\s+replay\b/m);
    expect(run.stdout).toMatch(/^\s+simulate\b/m);
  });
});

describe.skipIf(!MOONCAKE)('kvflow replay on the Mooncake trace', () => {
  let run: CliRun;
  let doc: ReplayDoc;
  beforeAll(async () => {
    run = await kvflow(['replay', '--trace', MOONCAKE, '--policy', 'lru,belady', '--capacity', '1M,inf', '--json']);
    doc = expectJsonDocument(run) as ReplayDoc;
  });

  it('prints one JSON document with the trace summary and nothing on stderr', () => {
    expect(keysOf(doc)).toEqual(['results', 'trace']);
    expect(doc.trace).toEqual({ path: MOONCAKE, requests: 12031, inputTokens: 144793823, pages: 288500 });
    expect(run.stderr).toBe('');
  });

  it('gives four results with exactly the contract fields', () => {
    expect(doc.results).toHaveLength(4);
    const runs = doc.results.map((r) => [r.policy, r.capacityTokens]);
    expect(runs).toEqual([
      ['lru', 1048576],
      ['belady', 1048576],
      ['lru', null],
      ['belady', null],
    ]);
    for (const result of doc.results) {
      expect(keysOf(result)).toEqual([...REPLAY_RESULT_KEYS].sort());
      expect(result.requests).toBe(12031);
      expect(result.inputTokens).toBe(144793823);
      expect(Number.isSafeInteger(result.hitTokens)).toBe(true);
      expect(result.hitTokens as number).toBeGreaterThan(0);
      expect(result.hitTokens as number).toBeLessThanOrEqual(144793823);
      expect(result.hitRate).toBeCloseTo((result.hitTokens as number) / 144793823, 12);
      expect(Number.isSafeInteger(result.evictions)).toBe(true);
      expect(result.seconds).toBeTypeOf('number');
      expect(result.seconds as number).toBeGreaterThanOrEqual(0);
    }
  });

  it('belady hits at least as much as lru at 1M and exactly as much unbounded', () => {
    const [lru1M, belady1M, lruInf, beladyInf] = doc.results as [
      Record<string, number>,
      Record<string, number>,
      Record<string, number>,
      Record<string, number>,
    ];
    expect(belady1M.hitTokens).toBeGreaterThanOrEqual(lru1M.hitTokens!);
    expect(beladyInf.hitTokens).toBe(lruInf.hitTokens);
    expect(lruInf.evictions).toBe(0);
    expect(beladyInf.evictions).toBe(0);
    expect(lru1M.evictions).toBeGreaterThan(0);
    // Unbounded capacity reaches the trace's ceiling, which no bounded run exceeds.
    expect(lruInf.hitTokens).toBeGreaterThanOrEqual(belady1M.hitTokens!);
  });

  it('prints a table naming the policies without --json', async () => {
    const table = await kvflow(['replay', '--trace', MOONCAKE, '--policy', 'lru,belady', '--capacity', '1M']);
    expect(table.status).toBe(0);
    expect(table.stderr).toBe('');
    expect(table.stdout).toContain('lru');
    expect(table.stdout).toContain('belady');
    expect(table.stdout).toContain('1M');
    expect(table.stdout).toContain('12,031');
    expect(() => JSON.parse(table.stdout) as unknown).toThrow();
  });
});

describe.concurrent('kvflow replay: bad input exits 2 with one line and no output', () => {
  it('a missing trace file, named', async () => {
    expectUsageError(await kvflow(['replay', '--trace', 'no/such/trace.jsonl']), 'no/such/trace.jsonl', /no such file/);
  });

  it('--capacity 12Q, naming the flag and the accepted forms', async () => {
    expectUsageError(await kvflow(['replay', '--trace', SMALL_TRACE, '--capacity', '12Q']), '--capacity', '12Q', /512k, 1M/, /inf/);
  });

  it('--policy foo, naming the accepted policies', async () => {
    expectUsageError(await kvflow(['replay', '--trace', SMALL_TRACE, '--policy', 'foo']), '--policy', 'foo', /lru, lfu, belady, ste/);
  });

  it('a trace with a bad line: file:line: field: problem', async () => {
    const file = await traceWithBadLine();
    const line = expectUsageError(await kvflow(['replay', '--trace', file]));
    expect(line).toMatch(new RegExp(`${escapeRegExp(file)}:2: input_length: \\S.*`));
  });

  it('an unknown subcommand', async () => {
    expectUsageError(await kvflow(['frobnicate']), 'frobnicate');
  });

  it('replay without the required --trace', async () => {
    expectUsageError(await kvflow(['replay', '--policy', 'lru']), '--trace');
  });

  it('--skip-invalid skips the bad line, exits 0 and reports skippedLines 1', async () => {
    const file = await traceWithBadLine();
    const doc = expectJsonDocument(await kvflow(['replay', '--trace', file, '--skip-invalid', '--policy', 'lru', '--capacity', 'inf', '--json'])) as ReplayDoc;
    expect(doc.trace).toMatchObject({ path: file, requests: 2, inputTokens: 52, pages: 4, skippedLines: 1 });
    // a and c share their first block (16 tokens).
    expect(doc.results[0]).toMatchObject({ policy: 'lru', capacityTokens: null, requests: 2, hitTokens: 16 });
  });
});

describe('kvflow replay --workflow', () => {
  it('ste beats lru with room for half the agents of sequential-10', async () => {
    const spec = await loadWorkflowSpec(join(REPO, 'workloads/sequential-10.json'));
    const trace = join(dir, 'sequential-10.jsonl');
    await writeTrace(trace, generateRequests(spec, { seed: 1 }));
    const half = (Object.keys(spec.agents).length / 2) * 2048; // five 2048-token prompts: 10240 tokens
    const args = ['replay', '--trace', trace, '--workflow', 'workloads/sequential-10.json', '--policy', 'lru,ste,belady', '--capacity', `${half},inf`, '--json'];
    const doc = expectJsonDocument(await kvflow(args)) as ReplayDoc;
    expect(doc.trace).toMatchObject({ requests: 100, inputTokens: 208000 });
    const hits = (policy: string, capacity: number | null) =>
      doc.results.find((r) => r.policy === policy && r.capacityTokens === capacity)!.hitTokens as number;
    // LRU evicts exactly the agent that runs next, every time: no hit at all. So "ste > lru" would pass for
    // any policy that keeps anything; on a sequential workflow STE keeps the next agents, which is optimal.
    expect(hits('lru', half)).toBe(0);
    expect(hits('belady', half)).toBeGreaterThan(0.4 * hits('belady', null));
    expect(hits('ste', half)).toBe(hits('belady', half));
    expect(hits('ste', null)).toBe(hits('lru', null));
  });
});

describe('kvflow simulate', () => {
  let first: CliRun;
  let doc: SimDoc;
  beforeAll(async () => {
    first = await kvflow(['simulate', '--workload', PAPER_1024, '--json']);
    doc = expectJsonDocument(first) as SimDoc;
  });

  it('prints one JSON document with config and results for sglang, hicache, kvflow', () => {
    expect(keysOf(doc)).toEqual(['config', 'results', 'warnings']);
    expect(doc.config).toBeTypeOf('object');
    expect(doc.results.map((r) => r.setup)).toEqual(['sglang', 'hicache', 'kvflow']);
  });

  it('results have exactly the contract fields', () => {
    for (const result of doc.results) {
      expect(keysOf(result)).toEqual([...SIM_RESULT_KEYS].sort());
      for (const key of ['workflowLatency', 'e2e', 'ttft', 'tpot']) expect(keysOf(result[key])).toEqual([...LATENCY_KEYS].sort());
      expect(keysOf(result.linkUtilization)).toEqual(['d2h', 'h2d']);
      expect(keysOf(result.speedup)).toEqual(['hicache', 'kvflow', 'sglang']);
      expect(result.requests).toBe(110);
      expect(result.workflows).toBe(1);
      expect((result.speedup as Record<string, number>)[result.setup as string]).toBe(1);
      // The paper workload warms up one round: the figures above leave it out, `all` keeps every request.
      expect(result.warm).toBe(true);
      expect(keysOf(result.all)).toEqual(['e2e', 'speedup', 'tpot', 'ttft', 'workflowLatency']);
      for (const key of SIM_RESULT_KEYS.filter((k) => k !== 'setup' && k !== 'warm' && k !== 'all')) {
        const values = typeof result[key] === 'object' ? Object.values(result[key] as object) : [result[key]];
        for (const value of values) expect(Number.isFinite(value), `${String(result.setup)}.${key}`).toBe(true);
      }
    }
  });

  it('running it twice gives byte-identical stdout', async () => {
    const second = await kvflow(['simulate', '--workload', PAPER_1024, '--json']);
    expect(second.status).toBe(0);
    expect(second.stdout).toBe(first.stdout);
  });

  it('--report writes a self-contained HTML file with SVG charts', async () => {
    const report = join(dir, 'report.html');
    const run = await kvflow(['simulate', '--workload', PAPER_1024, '--report', report]);
    expect(run.status).toBe(0);
    expect(run.stderr).toBe('');
    expect(run.stdout).toContain(report);
    const html = await readFile(report, 'utf8');
    expect(html).toMatch(/^<!doctype html>/i);
    expect(html).toContain('<svg');
    for (const setup of ['sglang', 'hicache', 'kvflow']) expect(html).toContain(setup);
  });

  it('simulates a trace file too', async () => {
    const spec = await loadWorkflowSpec(join(REPO, PAPER_1024));
    const trace = join(dir, 'sequential-1024.jsonl');
    await writeTrace(trace, generateRequests(spec, { seed: 1 }));
    const traced = expectJsonDocument(await kvflow(['simulate', '--trace', trace, '--setups', 'sglang,hicache', '--json'])) as SimDoc;
    expect(traced.results.map((r) => [r.setup, r.requests])).toEqual([
      ['sglang', 110],
      ['hicache', 110],
    ]);
  });
});

describe.concurrent('kvflow simulate: bad input exits 2 with one line and no output', () => {
  it('--gpu X lists the accepted GPUs', async () => {
    expectUsageError(await kvflow(['simulate', '--workload', PAPER_1024, '--gpu', 'X']), '--gpu', /A10G/, /H100/, /H200/);
  });

  it('--setups foo lists the accepted setups', async () => {
    expectUsageError(await kvflow(['simulate', '--workload', PAPER_1024, '--setups', 'foo']), '--setups', 'foo', /sglang/, /hicache/, /kvflow/);
  });

  it('a spec whose edge names a missing agent: file: edges.0.to: problem', async () => {
    const spec = await tempFile(
      'missing-agent.json',
      JSON.stringify({ name: 'bad', agents: { a: { fixed: 16, dynamic: 16, output: 4 } }, edges: [{ from: 'a', to: 'ghost' }], start: 'a' }),
    );
    const line = expectUsageError(await kvflow(['simulate', '--workload', spec]));
    expect(line).toMatch(new RegExp(`${escapeRegExp(spec)}: edges\\.0\\.to: \\S.*`));
    expect(line).toContain('ghost');
  });

  it('neither --workload nor --trace', async () => {
    expectUsageError(await kvflow(['simulate', '--json']), '--workload', '--trace');
  });

  it('a config file with an unknown key names the file and the field', async () => {
    const config = await tempFile('config.json', JSON.stringify({ mfu: 0.4, bogusField: 1 }));
    expectUsageError(await kvflow(['simulate', '--workload', PAPER_1024, '--config', config]), `${config}: bogusField:`, /unknown field/);
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Terminal tables of the built `kvflow`: each headed by what it ran, one time unit per column (in its
 * heading), and lines skipped under --skip-invalid counted in table mode as well as in JSON.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { expectJsonDocument, kvflow, startCliServer } from '../helpers/cli.js';

const scratch = mkdtempSync(join(tmpdir(), 'kvflow-cli-tables-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** The Mooncake excerpt's first 20 lines with one broken line after the fifth. */
const BROKEN = join(scratch, 'broken.jsonl');
const lines = readFileSync('workloads/traces/mooncake_conversation.excerpt.jsonl', 'utf8').split('\n').slice(0, 20);
writeFileSync(BROKEN, [...lines.slice(0, 5), '{"timestamp": "soon"}', ...lines.slice(5)].join('\n') + '\n');

/** The heading cells of the first table in `text`. */
function tableHead(text: string): string[] {
  const row = text.split('\n').find((line) => line.startsWith('│'))!;
  return row.split('│').slice(1, -1).map((cell) => cell.trim());
}

describe('simulate table', () => {
  it('names the workload, GPU, model and engine, and gives each time column one unit', async () => {
    const run = await kvflow(['simulate', '--workload', 'workloads/sequential-10.json', '--gpu', 'h100', '--engine', 'ideal']);
    expect(run.status, run.stderr).toBe(0);
    const [heading] = run.stdout.split('\n');
    expect(heading).toBe('simulate: workload sequential-10 (workloads/sequential-10.json, seed 1, 100 requests) on 1 x H100-SXM, Llama-3.1-8B, engine ideal, 1 replica');
    const head = tableHead(run.stdout);
    expect(head).toEqual([
      'setup', expect.stringMatching(/^workflow mean \((s|ms)\)$/), expect.stringMatching(/^e2e p50 \((s|ms)\)$/), expect.stringMatching(/^e2e p99 \((s|ms)\)$/),
      expect.stringMatching(/^ttft p50 \((s|ms)\)$/), expect.stringMatching(/^tpot p50 \((s|ms)\)$/), expect.stringMatching(/^makespan \((s|ms)\)$/),
      'gpu hit', 'cpu hit', 'recomputed (tokens)', 'prefetched (tokens)', expect.stringMatching(/^stall \((s|ms)\)$/), 'vs sglang',
    ]);
    // Cells are bare numbers: no unit in a cell, so no column mixes `0` with `26.84 s`.
    const body = run.stdout.split('\n').filter((line) => /^│ (sglang|hicache|kvflow) /.test(line));
    expect(body).toHaveLength(3);
    for (const row of body) {
      const cells = row.split('│').slice(2, 8).map((cell) => cell.trim());
      for (const cell of cells) expect(cell).toMatch(/^\d+\.\d+$/);
    }
  });

  it('counts skipped lines in its heading, and leaves the workflow column empty for a trace without workflows', async () => {
    const run = await kvflow(['simulate', '--trace', BROKEN, '--skip-invalid', '--gpu', 'H100', '--setups', 'sglang']);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout.split('\n')[0]).toBe(`simulate: trace ${BROKEN} (mooncake, 20 requests, 1 invalid line skipped) on 1 x H100-SXM, Llama-3.1-8B, engine sglang-0.4, 1 replica`);
    expect(run.stdout).toMatch(/│ sglang +│ +- │/);
  });
});

describe('skipped lines in table mode', () => {
  it('replay says how many lines it skipped', async () => {
    const run = await kvflow(['replay', '--trace', BROKEN, '--skip-invalid', '--capacity', '4k', '--policy', 'lru']);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout.split('\n')[0]).toMatch(/^.*broken\.jsonl: 20 requests, .* page references, 1 invalid line skipped$/);
  });

  it('trace graph counts them in its table and, with --skip-invalid, in its JSON', async () => {
    const table = await kvflow(['trace', 'graph', BROKEN, '--skip-invalid']);
    expect(table.status, table.stderr).toBe(0);
    expect(table.stdout.split('\n')[0]).toMatch(/learned over 1 session, 0 transitions \(1 invalid line skipped\)$/);
    const doc = expectJsonDocument(await kvflow(['trace', 'graph', BROKEN, '--skip-invalid', '--json'])) as { skippedLines: number; sessions: number };
    expect(doc.skippedLines).toBe(1);
    // Without the flag the document is unchanged (no skippedLines key); the broken line is an error then.
    const clean = expectJsonDocument(await kvflow(['trace', 'graph', 'workloads/traces/mooncake_conversation.excerpt.jsonl', '--json'])) as Record<string, unknown>;
    expect(Object.keys(clean)).toEqual(['path', 'agents', 'transitions', 'sessions']);
  });
});

describe('emulate table', () => {
  it('names the workload, its workflows and the target, with one unit per time column', async () => {
    const engine = await startCliServer(['engine', '--speed', '400']);
    try {
      const run = await kvflow(['emulate', '--url', engine.url, '--workload', 'workloads/sequential-10.json', '--workflows', '1', '--concurrency', '1', '--workers', '0']);
      expect(run.status, run.stderr).toBe(0);
      expect(run.stdout.split('\n')[0]).toBe(`emulate: workload sequential-10 (workloads/sequential-10.json, seed 1), 1 workflow, 1 at a time against ${engine.url}`);
      const head = tableHead(run.stdout);
      for (const column of ['workflow mean', 'e2e p50', 'e2e p99', 'ttft p50', 'ttft p99', 'tpot p50', 'makespan']) {
        expect(head.filter((cell) => new RegExp(`^${column} \\((s|ms)\\)$`).test(cell)), column).toHaveLength(1);
      }
    } finally {
      await engine.stop();
    }
  }, 60_000);
});

import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { TraceRequest } from '../../src/types.js';
import { generateRequests } from '../../src/workload/generate.js';
import { parseWorkflowSpec } from '../../src/workload/spec.js';
import { writeTrace } from '../../src/workload/trace.js';
import { expectJsonDocument, expectUsageError, kvflow } from '../helpers/cli.js';

let dir: string;
let stripped: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kvflow-learned-'));
  const path = new URL('../../workloads/sequential-10.json', import.meta.url);
  const spec = parseWorkflowSpec(JSON.parse(await readFile(path, 'utf8')), 'sequential-10.json');
  const requests = generateRequests(spec, { seed: 1 }).map(({ agent: _a, fixedBlocks: _f, ...rest }) => rest);
  stripped = join(dir, 'stripped.jsonl');
  await writeTrace(stripped, requests);
});

interface ReplayDoc {
  results: { policy: string; capacityTokens: number | null; hitTokens: number }[];
}

describe('learned step graph from the command line', () => {
  it('trace graph --json recovers the 10-agent cycle of an untagged workflow trace', async () => {
    const doc = expectJsonDocument(await kvflow(['trace', 'graph', stripped, '--json'])) as {
      agents: { name: string; signaturePages: number }[];
      transitions: { from: string; to: string; probability: number }[];
      sessions: number;
    };
    expect(doc.sessions).toBe(1);
    expect(doc.agents).toHaveLength(10);
    expect(doc.transitions).toHaveLength(10);
    expect(new Set(doc.transitions.map((t) => t.from)).size).toBe(10);
    expect(doc.transitions.every((t) => t.probability === 1)).toBe(true);
  });

  it('replay --graph learned beats lru on it, and --graph none is lru exactly', async () => {
    const run = async (graph: string) =>
      expectJsonDocument(
        await kvflow(['replay', '--trace', stripped, '--policy', 'lru,ste', '--capacity', '12k', '--graph', graph, '--json']),
      ) as ReplayDoc;
    const learned = await run('learned');
    const [lru, ste] = learned.results;
    expect(ste!.hitTokens).toBeGreaterThan(lru!.hitTokens);
    const none = await run('none');
    expect(none.results[1]!.hitTokens).toBe(none.results[0]!.hitTokens);
  });

  it('replay --graph declared without a workflow spec is a usage error', async () => {
    expectUsageError(await kvflow(['replay', '--trace', stripped, '--graph', 'declared']), '--graph');
  });

  it('replays a trace whose arrival times go backwards in stable t order (the in-memory path)', async () => {
    const request = (id: string, t: number, blocks: number[]): TraceRequest => ({ id, t, blocks, blockSize: 16, inputLength: 16 * blocks.length, outputLength: 1 });
    const path = join(dir, 'unsorted.jsonl');
    // In t order: a (t 0) then c (t 1) then b (t 2): c shares a's page.
    const lines = [request('a', 0, [1]), request('b', 2, [7]), request('c', 1, [1, 3])].map((r) =>
      JSON.stringify({ id: r.id, t: r.t, blocks: r.blocks, block_size: 16, input_length: r.inputLength, output_length: 1 }),
    );
    await writeFile(path, `${lines.join('\n')}\n`);
    const doc = expectJsonDocument(await kvflow(['replay', '--trace', path, '--policy', 'lru', '--capacity', '16', '--json'])) as ReplayDoc;
    // One page of capacity: in t order c hits a's page (16 tokens); in file order b would evict it first.
    expect(doc.results[0]!.hitTokens).toBe(16);
  });
});

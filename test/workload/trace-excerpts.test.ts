/**
 * The bundled excerpts (workloads/traces/) of every public trace format: each reads as its format with
 * no `../shared`, and the tour's commands run on them end to end.
 */
import { describe, expect, it } from 'vitest';
import { readTrace } from '../../src/workload/trace.js';
import { expectJsonDocument, kvflow } from '../helpers/cli.js';
import { REPO } from '../helpers/sim.js';
import { readTraceHead } from '../helpers/trace-head.js';
import { join } from 'node:path';

const EXCERPTS = [
  ['mooncake_conversation.excerpt.jsonl', 'mooncake', 300],
  ['lmcache_agent_magagent.excerpt.jsonl', 'lmcache', 72],
  ['lmcache_agent_miniswe.excerpt.jsonl', 'lmcache', 32],
  ['azure_llm_2023_code.excerpt.csv', 'azure', 300],
  ['azure_llm_2023_conv.excerpt.csv', 'azure', 300],
] as const;

describe('bundled trace excerpts', () => {
  it.each(EXCERPTS)('%s reads as %s with every line valid', async (file, format, requests) => {
    const trace = await readTrace(join(REPO, 'workloads/traces', file));
    expect(trace.format).toBe(format);
    expect(trace.requests).toHaveLength(requests);
    expect(trace.skipped).toBe(0);
  });

  it.each(EXCERPTS)('%s: the test helper readTraceHead gives the first requests of readTrace, in order', async (file, _format, requests) => {
    const path = join(REPO, 'workloads/traces', file);
    const all = (await readTrace(path)).requests;
    for (const count of [0, 1, 7, requests - 1, requests, requests + 5]) {
      expect(await readTraceHead(path, count), `${count} requests`).toEqual(all.slice(0, count));
    }
  });

  it('counts empty prompts as zero-token requests, not errors (trace stats --json)', async () => {
    const stats = expectJsonDocument(
      await kvflow(['trace', 'stats', 'workloads/traces/lmcache_agent_magagent.excerpt.jsonl', '--json']),
    ) as { requests: number; emptyPrompts: number; skippedLines: number };
    expect(stats).toMatchObject({ requests: 72, emptyPrompts: 7, skippedLines: 0 });
  });

  it('replays and simulates the agent excerpt with its empty prompts', async () => {
    const replay = expectJsonDocument(
      await kvflow(['replay', '--trace', 'workloads/traces/lmcache_agent_magagent.excerpt.jsonl', '--capacity', '16k', '--policy', 'lru', '--json']),
    ) as { trace: { requests: number } };
    expect(replay.trace.requests).toBe(72);
    const sim = expectJsonDocument(
      await kvflow(['simulate', '--trace', 'workloads/traces/lmcache_agent_magagent.excerpt.jsonl', '--setups', 'sglang', '--json'], { timeoutMs: 120_000 }),
    ) as { results: { requests: number }[] };
    expect(sim.results[0]!.requests).toBe(72);
  });
});

/**
 * Regression: with SGLang v0.4's batched load-back, making GPU room for a CPU-only page could evict the
 * GPU page it hangs from (the match's last page, not yet locked), and the run died with "page N loads
 * before its parent". load_back in hiradix_cache.py locks that ancestor while it makes room; so does
 * Replica now. Only the full Mooncake trace on 8 H100 replicas reached that state.
 */
import { describe, expect, it } from 'vitest';
import { expectJsonDocument, kvflow } from '../helpers/cli.js';
import { requireTrace } from '../helpers/requirements.js';

const MOONCAKE = requireTrace('mooncake_conversation_trace.jsonl');

describe.skipIf(!MOONCAKE)('simulate: batched load-back under memory pressure', () => {
  it('runs the whole Mooncake trace on 8 replicas without a page loading before its parent', async () => {
    const run = await kvflow(['simulate', '--trace', MOONCAKE, '--replicas', '8', '--gpu', 'H100-SXM', '--memory-fraction', '0.9', '--setups', 'hicache', '--json'], {
      timeoutMs: 120_000,
    });
    expect(run.stderr).not.toMatch(/internal error|loads before its parent/);
    const report = expectJsonDocument(run) as { results: { setup: string; requests: number; cpuHitRate: number }[] };
    const [hicache] = report.results;
    expect(hicache).toMatchObject({ setup: 'hicache', requests: 12031 });
    // The CPU tier serves hits (the loads that used to fail), and all requests finish.
    expect(hicache!.cpuHitRate).toBeGreaterThan(0);
  }, 180_000);
});

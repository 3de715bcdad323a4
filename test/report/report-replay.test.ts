import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderReplayHtml } from '../../src/report/replay-html.js';
import type { ReplayReport } from '../../src/replay/replay-suite.js';
import { kvflow } from '../helpers/cli.js';

function report(): ReplayReport {
  const capacities = [1024, 4096, null];
  const rate = { lru: [0.1, 0.3, 0.5], ste: [0.1, 0.3, 0.5], belady: [0.3, 0.45, 0.5] } as const;
  return {
    trace: { path: 'demo.jsonl', requests: 10, inputTokens: 1000, pages: 60 },
    results: capacities.flatMap((capacityTokens, i) =>
      (['lru', 'ste', 'belady'] as const).map((policy) => ({
        policy,
        capacityTokens,
        requests: 10,
        inputTokens: 1000,
        hitTokens: rate[policy][i]! * 1000,
        hitRate: rate[policy][i]!,
        evictions: capacityTokens === null ? 0 : 50 - i * 10,
        seconds: 0.01,
      })),
    ),
  } as ReplayReport;
}

describe('replay report', () => {
  it('plots hit rate against capacity with the LRU-to-Belady gap shaded, and evictions', async () => {
    const html = await renderReplayHtml(report());
    expect(html.match(/<svg[\s>]/g)).toHaveLength(2);
    expect(html).toContain('aria-roledescription="area mark container"');
    expect(html).toContain('Evictions against cache capacity');
    expect(html).toMatch(/<title>[^<]*Belady hit rate[^<]*<\/title>/);
    // ste without a step graph is lru: said in words and drawn dashed.
    expect(html).toContain('lru and ste gave identical results');
    expect(html).toMatch(/stroke-dasharray="7,4"/);
    expect(html).toContain('<td>0%</td>');
  });

  it('is written by kvflow replay --report', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kvflow-replay-report-'));
    try {
      const file = join(dir, 'replay.html');
      const run = await kvflow(['replay', '--trace', 'workloads/traces/mooncake_conversation.excerpt.jsonl', '--capacity', '64k,256k,inf', '--report', file]);
      expect(run.status, run.stderr).toBe(0);
      expect(run.stdout).toContain(`report: ${file}`);
      const html = await readFile(file, 'utf8');
      expect(html).toContain('kvflow replay: workloads/traces/mooncake_conversation.excerpt.jsonl');
      expect(html).toContain('Hit rate against cache capacity');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

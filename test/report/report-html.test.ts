import { describe, expect, it } from 'vitest';
import { bestRows, flattenConfig, formatSeconds, renderHtmlReport } from '../../src/report/html.js';
import type { SimReport, SimResult, SimTimeline } from '../../src/types.js';

/** Charts of the simulate report: three CDFs, workflows, agent timeline, queue, occupancy, utilisation, traffic, hit rates. */
const CHARTS = 10;

const latency = (base: number) => ({ mean: base, p50: base * 0.9, p90: base * 1.6, p99: base * 2.4 });

function result(setup: string, base: number, baselines: string[]): SimResult {
  return {
    setup,
    requests: 12,
    workflows: 4,
    makespan: 40 * base,
    workflowLatency: latency(base * 3),
    e2e: latency(base),
    ttft: latency(base / 10),
    tpot: latency(0.02),
    gpuHitRate: 0.5 / base,
    cpuHitRate: 0.1,
    recomputedTokens: 10_000 * base,
    loadedTokens: 2048,
    prefetchedTokens: 1024,
    wastedPrefetchTokens: 16,
    stallSeconds: 0.25 * base,
    linkUtilization: { h2d: 0.1, d2h: 0.05 },
    speedup: Object.fromEntries(baselines.map((b) => [b, base])),
    warm: false,
    all: {
      workflowLatency: latency(base * 3),
      e2e: latency(base),
      ttft: latency(base / 10),
      tpot: latency(0.02),
      speedup: Object.fromEntries(baselines.map((b) => [b, base])),
    },
  };
}

function timeline(setup: string, base: number): SimTimeline {
  return {
    setup,
    e2e: Array.from({ length: 12 }, (_, i) => base * (0.05 + i * i * 0.3)),
    workflowLatency: Array.from({ length: 4 }, (_, i) => ({ workflow: `wf-${i}`, seconds: base * (2 + i) })),
    samples: Array.from({ length: 10 }, (_, i) => ({
      t: i * 4 * base,
      gpuPages: Math.min(100, i * 15),
      cpuPages: i * 40,
      h2dBytes: i * 2 ** 28,
      d2hBytes: i * 2 ** 27,
      h2dBusy: i * 0.5 * base,
      d2hBusy: i * 0.25 * base,
      running: i % 4,
      waiting: (i * 3) % 5,
    })),
    gpuSlots: 100,
    cpuSlots: 400,
    ttft: Array.from({ length: 12 }, (_, i) => base * (0.01 + i * 0.02)),
    tpot: Array.from({ length: 12 }, (_, i) => 0.02 + i * 0.001),
    steps: Array.from({ length: 6 }, (_, i) => ({
      workflow: `wf-${i % 2}`,
      agent: `agent-${i}`,
      request: `r${i}`,
      arrival: i * base,
      loadStart: i === 3 ? i * base + 0.1 : Number.NaN,
      admitted: i * base + 0.2,
      firstToken: i * base + 0.5,
      done: i * base + 0.9,
      hitTokens: 32,
      loadedTokens: i === 3 ? 16 : 0,
      inputTokens: 64,
    })),
    promptEvents: [
      { t: 1.5 * base, kind: 'prefetched', workflow: 'wf-1', agent: 'agent-3' },
      { t: 2.5 * base, kind: 'evicted', workflow: 'wf-0', agent: 'agent-2' },
    ],
  };
}

function fixture(setups: string[]): { report: SimReport; timelines: SimTimeline[] } {
  return {
    report: {
      config: { trace: 'demo.jsonl', seed: 7, gpu: { name: 'A100', memoryGiB: 80 }, setups },
      results: setups.map((s, i) => result(s, i + 1, setups)),
    },
    timelines: setups.map((s, i) => timeline(s, i + 1)),
  };
}

describe('renderHtmlReport', () => {
  it('renders one self-contained HTML document with every chart as inline SVG', async () => {
    const { report, timelines } = fixture(['sglang', 'hicache', 'kvflow']);
    const html = await renderHtmlReport(report, timelines, { title: 'Demo' });
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html.match(/<html[\s>]/g)).toHaveLength(1);
    expect(html.match(/<\/html>/g)).toHaveLength(1);
    expect(html.match(/<svg[\s>]/g)).toHaveLength(CHARTS);
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/<link[\s>]/i);
    expect(html).not.toMatch(/\b(?:src|href)\s*=\s*["']?\s*https?:\/\//i);
    expect(html).not.toMatch(/url\(\s*["']?https?:/i);
    expect(html).toContain('<title>Demo</title>');
    expect(html).toContain('gpu.memoryGiB');
  });

  it('gives every SVG element id a unique value across the page', async () => {
    const { report, timelines } = fixture(['sglang', 'hicache', 'kvflow']);
    const html = await renderHtmlReport(report, timelines);
    const ids = [...html.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('escapes setup names, config values and the title', async () => {
    const { report, timelines } = fixture(['<b>&', 'kvflow']);
    report.config['note'] = '"quoted" <i>';
    const html = await renderHtmlReport(report, timelines, { title: '<script>alert(1)</script>' });
    expect(html).not.toContain('<b>&');
    expect(html).not.toContain('<i>');
    expect(html).not.toContain('<script>');
    expect(html).toContain('&lt;b&gt;&amp;');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
  });

  it('is deterministic', async () => {
    const first = fixture(['sglang', 'hicache', 'kvflow']);
    const second = fixture(['sglang', 'hicache', 'kvflow']);
    const a = await renderHtmlReport(first.report, first.timelines);
    const b = await renderHtmlReport(second.report, second.timelines);
    expect(a).toBe(b);
  });

  it('handles a single setup', async () => {
    const { report, timelines } = fixture(['kvflow']);
    const html = await renderHtmlReport(report, timelines);
    expect(html.match(/<svg[\s>]/g)).toHaveLength(CHARTS);
    expect(html).not.toContain('class="best"');
  });

  it('handles empty timelines and empty results', async () => {
    const { report } = fixture(['sglang', 'kvflow']);
    const empty: SimTimeline[] = report.results.map((r) => ({
      setup: r.setup,
      e2e: [],
      workflowLatency: [],
      samples: [],
      gpuSlots: 0,
      cpuSlots: 0,
    }));
    const withResults = await renderHtmlReport(report, empty);
    expect(withResults.match(/<svg[\s>]/g)).toHaveLength(CHARTS);
    const nothing = await renderHtmlReport({ config: {}, results: [] }, []);
    expect(nothing.match(/<svg[\s>]/g)).toHaveLength(CHARTS);
    expect(nothing).toContain('No results.');
  });

  it('switches to a box plot above 64 workflows and highlights the best value per column', async () => {
    const { report, timelines } = fixture(['sglang', 'kvflow']);
    for (const t of timelines) {
      t.workflowLatency = Array.from({ length: 80 }, (_, i) => ({ workflow: `wf-${i}`, seconds: 1 + i / 10 }));
    }
    const html = await renderHtmlReport(report, timelines);
    expect(html).toContain('boxes span the quartiles');
    // kvflow has the higher speedup (2x vs 1x), sglang the lower makespan (40 s vs 80 s).
    expect(html).toMatch(/<td class="best">2\.00×<\/td>/);
    expect(html).toContain('<td class="best">40 s</td>');
  });
});

describe('report layout', () => {
  it('names what ran in the header, puts the summary first and folds the configuration last', async () => {
    const { report, timelines } = fixture(['sglang', 'hicache', 'kvflow']);
    report.config = {
      workload: { name: 'sequential-8192', requests: 10 },
      hardware: { gpu: 'A10G', model: 'Llama-3.1-8B', gpuCount: 1, engineProfile: 'sglang-0.4' },
    };
    const html = await renderHtmlReport(report, timelines);
    const header = html.slice(html.indexOf('<header>'), html.indexOf('</header>'));
    for (const fact of ['sequential-8192, 10 requests', 'A10G', 'Llama-3.1-8B', 'sglang-0.4']) expect(header).toContain(fact);
    const summary = html.indexOf('id="summary"');
    const firstChart = html.indexOf('class="chart"');
    const config = html.indexOf('id="configuration"');
    expect(summary).toBeGreaterThan(0);
    expect(summary).toBeLessThan(firstChart);
    expect(firstChart).toBeLessThan(config);
    expect(html.slice(config)).toMatch(/^id="configuration">\n<details>/);
  });

  it('gives every data mark a hover title and keeps legends off the axes', async () => {
    const { report, timelines } = fixture(['sglang', 'kvflow']);
    const html = await renderHtmlReport(report, timelines);
    for (const svg of html.match(/<svg[\s\S]*?<\/svg>/g) ?? []) {
      expect(svg).toMatch(/role-axis/);
      expect(svg).toMatch(/<title>[^<]+<\/title>/);
    }
  });

  it('says which setups are identical and dashes their lines', async () => {
    const { report, timelines } = fixture(['sglang', 'hicache', 'kvflow']);
    const { setup: _s, speedup, ...metrics } = report.results[0]!;
    report.results[1] = { ...metrics, setup: 'hicache', speedup };
    timelines[1] = { ...timelines[0]!, setup: 'hicache' };
    const html = await renderHtmlReport(report, timelines);
    expect(html).toContain('sglang and hicache produced identical results');
    expect(html).toMatch(/stroke-dasharray="7,4"/);
    const distinct = fixture(['sglang', 'hicache']);
    expect(await renderHtmlReport(distinct.report, distinct.timelines)).not.toContain('identical results');
  });
});

describe('report formatting helpers', () => {
  it('formats durations for people', () => {
    expect(formatSeconds(0.00085)).toBe('850 µs');
    expect(formatSeconds(0.0123)).toBe('12.3 ms');
    expect(formatSeconds(4.56)).toBe('4.56 s');
    expect(formatSeconds(1234.4)).toBe('1,234 s');
    expect(formatSeconds(Number.NaN)).toBe('—');
  });

  it('flattens nested config with dotted keys', () => {
    expect(flattenConfig({ a: 1, b: { c: 'x', d: { e: true } }, list: [1, 2], rows: [{ f: 20_000 }] })).toEqual([
      ['a', '1'],
      ['b.c', 'x'],
      ['b.d.e', 'true'],
      ['list', '[1, 2]'],
      ['rows.0.f', '20,000'],
    ]);
  });

  it('picks every row tied for the best value, and none when all are equal', () => {
    expect([...bestRows([3, 1, 1, undefined], 'lower')]).toEqual([1, 2]);
    expect([...bestRows([3, 1, 2], 'higher')]).toEqual([0]);
    expect([...bestRows([2, 2], 'lower')]).toEqual([]);
    expect([...bestRows([1, 5], 'neutral')]).toEqual([]);
  });
});

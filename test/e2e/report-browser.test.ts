/// <reference lib="dom" />
/**
 * The three report kinds in headless Chromium (Debian's `chromium`; .ci/run installs it) at 1280 px:
 * nothing overflows sideways, every chart has axes, a legend and at least one mark, and marks carry hover
 * titles. Without a browser the test is skipped with a message, except in CI, where that is a failure.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer, { type Browser } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kvflow } from '../helpers/cli.js';
import { REPO } from '../helpers/sim.js';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const haveBrowser = existsSync(CHROMIUM);
if (!haveBrowser && process.env.CI) throw new Error(`${CHROMIUM} is missing: .ci/run installs Debian's chromium`);
if (!haveBrowser) console.warn(`report-browser.test.ts skipped: no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM)`);

interface PageCheck {
  scrollWidth: number;
  innerWidth: number;
  charts: { id: string; axes: number; legends: number; marks: number; titles: number; width: number }[];
}

describe.skipIf(!haveBrowser)('reports in a browser at 1280 px', () => {
  let dir: string;
  let browser: Browser;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kvflow-browser-'));
    browser = await puppeteer.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function check(file: string): Promise<PageCheck> {
    const page = await browser.newPage();
    try {
      await page.setViewport({ width: 1280, height: 900 });
      await page.goto(`file://${file}`);
      return await page.evaluate(() => ({
        scrollWidth: document.documentElement.scrollWidth,
        innerWidth: window.innerWidth,
        charts: Array.from(document.querySelectorAll('section.chart')).map((section) => {
          const svg = section.querySelector('svg')!;
          return {
            id: section.id,
            axes: svg.querySelectorAll('.role-axis').length,
            legends: svg.querySelectorAll('.role-legend').length,
            marks: svg.querySelectorAll('.role-mark [role="graphics-symbol"], .role-mark path, .role-mark rect').length,
            titles: svg.querySelectorAll('.role-mark title').length,
            width: svg.getBoundingClientRect().width,
          };
        }),
      }));
    } finally {
      await page.close();
    }
  }

  function expectReadable(result: PageCheck, charts: number): void {
    expect(result.scrollWidth).toBeLessThanOrEqual(result.innerWidth);
    expect(result.charts).toHaveLength(charts);
    for (const chart of result.charts) {
      expect(chart.axes, chart.id).toBeGreaterThan(0);
      expect(chart.legends, chart.id).toBeGreaterThan(0);
      expect(chart.marks, chart.id).toBeGreaterThan(0);
      expect(chart.titles, chart.id).toBeGreaterThan(0);
      // Full width: the chart fills its card (1280 px page, 1200 px column less padding).
      expect(chart.width, chart.id).toBeGreaterThan(1000);
    }
  }

  it('simulate report', async () => {
    const file = join(dir, 'simulate.html');
    const run = await kvflow(['simulate', '--workload', 'workloads/fanout-barrier.json', '--report', file], { timeoutMs: 120_000 });
    expect(run.status, run.stderr).toBe(0);
    expectReadable(await check(file), 10);
  }, 180_000);

  it('replay report', async () => {
    const file = join(dir, 'replay.html');
    const run = await kvflow(['replay', '--trace', 'workloads/traces/mooncake_conversation.excerpt.jsonl', '--capacity', '16k,64k,1M,inf', '--report', file]);
    expect(run.status, run.stderr).toBe(0);
    expectReadable(await check(file), 2);
  }, 120_000);

  it('sweep report with many series keeps its legend and table inside the page', async () => {
    const grid = join(dir, 'grid.json');
    await writeFile(
      grid,
      JSON.stringify({
        name: 'wide',
        kind: 'simulate',
        base: { workload: join(REPO, 'workloads/sequential-10.json'), setups: ['sglang', 'hicache', 'kvflow'] },
        axes: { seed: [1, 2], cpuPoolBytes: [1e9, 2e9, 4e9, 8e9, 16e9, 32e9] },
      }),
    );
    const file = join(dir, 'sweep.html');
    const run = await kvflow(['sweep', grid, '--workers', '2', '--out', join(dir, 'sweep.json'), '--report', file], { timeoutMs: 300_000 });
    expect(run.status, run.stderr).toBe(0);
    expectReadable(await check(file), 4);
  }, 360_000);
});

#!/usr/bin/env node
// Regenerates docs/report-{simulate,replay,sweep}.png: builds the three report kinds with the built CLI
// (npm run build first) on bundled inputs, opens each in headless Chromium at 1280 px and screenshots the
// top of the page. Usage: node scripts/report-screenshots.mjs  (CHROMIUM=/path overrides the browser).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import puppeteer from 'puppeteer-core';

const repo = resolve(import.meta.dirname, '..');
const cli = join(repo, 'dist/src/cli/main.js');
const dir = mkdtempSync(join(tmpdir(), 'kvflow-shots-'));
const run = (...args) => execFileSync(process.execPath, [cli, ...args], { cwd: repo, stdio: ['ignore', 'ignore', 'inherit'] });

const grid = join(dir, 'grid.json');
writeFileSync(grid, JSON.stringify({
  name: 'cpu-pool',
  description: 'Two workloads and two CPU pool sizes on one A10G: where does the CPU tier start to pay?',
  kind: 'simulate',
  base: { gpu: 'A10G', model: 'Llama-3.1-8B', setups: ['sglang', 'hicache', 'kvflow'], seed: 1 },
  axes: { workload: [join(repo, 'workloads/sequential-10.json'), join(repo, 'workloads/fanout-barrier.json')], cpuPoolBytes: [2e9, 16e9] },
}));
const reports = {
  simulate: () => run('simulate', '--workload', 'workloads/fanout-barrier.json', '--report', join(dir, 'simulate.html')),
  replay: () => run('replay', '--trace', 'workloads/traces/mooncake_conversation.excerpt.jsonl', '--capacity', '16k,64k,256k,1M,inf', '--report', join(dir, 'replay.html')),
  sweep: () => run('sweep', grid, '--workers', '0', '--out', join(dir, 'sweep.json'), '--report', join(dir, 'sweep.html')),
};
const browser = await puppeteer.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
try {
  for (const [kind, build] of Object.entries(reports)) {
    build();
    const page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 1500 });
    await page.goto(`file://${join(dir, `${kind}.html`)}`);
    await page.screenshot({ path: join(repo, 'docs', `report-${kind}.png`) });
    await page.close();
    console.log(`docs/report-${kind}.png`);
  }
} finally {
  await browser.close();
}

/**
 * `npm run bench`: every benchmark in one process, printed as one table. Ratios in the README come from
 * one run of this, never from timed unit tests. `npm run bench -- replay` runs only matching groups;
 * `--markdown FILE` also writes every line as one Markdown table (docs/performance.md's figures of record).
 */
import { writeFileSync } from 'node:fs';
import { cpus as cpus_, loadavg, totalmem } from 'node:os';
import { benchGateway } from './gateway.js';
import { benchGatewayScale } from './gateway-scale.js';
import { benchImport } from './import.js';
import { benchNative } from './native.js';
import { benchReplay, type BenchLine } from './replay.js';
import { benchScale } from './scale.js';
import { benchSimulate } from './simulate.js';
import { benchStartup } from './startup.js';
import { benchSte } from './ste.js';
import { benchTensor } from './tensor.js';
import { benchSweepQueue } from './sweep-queue.js';

const groups: Record<string, () => Promise<BenchLine[]>> = {
  startup: benchStartup,
  replay: benchReplay,
  import: benchImport,
  simulate: benchSimulate,
  ste: benchSte,
  native: benchNative,
  tensor: benchTensor,
  gateway: benchGateway,
  'gateway-scale': benchGatewayScale,
  sweep: benchSweepQueue,
};
/** Groups that run only when named: they take minutes. */
const onDemand: Record<string, () => Promise<BenchLine[]>> = { scale: benchScale };
const args = process.argv.slice(2);
const markdownAt = args.indexOf('--markdown');
const markdownFile = markdownAt >= 0 ? args.splice(markdownAt, 2)[1] : undefined;
if (markdownAt >= 0 && !markdownFile) {
  console.error('bench: --markdown needs a file name');
  process.exit(2);
}
const only = args;
for (const name of only) {
  if (!(name in groups) && !(name in onDemand)) {
    console.error(`bench: unknown group "${name}" (groups: ${[...Object.keys(groups), ...Object.keys(onDemand)].join(', ')})`);
    process.exit(2);
  }
}

const cpus = cpus_();
const started = new Date();
const machine = `${cpus.length} x ${cpus[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
const loadNow = () => loadavg().map((l) => l.toFixed(1)).join(' ');
console.log(`kvflow bench ${started.toISOString().slice(0, 16)}Z: ${machine}, load average ${loadNow()} at start`);
const markdownRows: string[] = [];

let peakRss = process.memoryUsage().rss;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 20);
const selected = Object.entries({ ...groups, ...onDemand }).filter(([name]) =>
  only.length > 0 ? only.includes(name) : name in groups,
);
for (const [name, run] of selected) {
  console.log(`\n## ${name} (load average ${loadNow()} at start)`);
  markdownRows.push(`| **${name}** (load average ${loadNow()} at start) | | | |`);
  for (const line of await run()) {
    console.log(formatLine(line));
    markdownRows.push(markdownRow(line));
  }
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}
clearInterval(sampler);

/** A figure, then its target and its same-run baseline (when it has them) on indented lines below. */
function formatLine({ name, value, target, baseline }: BenchLine): string {
  let text = `${name.padEnd(40)} ${value}`;
  if (target !== undefined) text += `\n${''.padEnd(40)}   target: ${target}`;
  if (baseline !== undefined) text += `\n${''.padEnd(40)}   baseline: ${baseline}`;
  return text;
}
console.log(`\nload average ${loadNow()} at end`);
console.log(`\npeak RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB (node ${process.version}, ${process.arch})`);
if (markdownFile) {
  const ended = new Date();
  const header = [
    `\`npm run bench${only.length > 0 ? ` -- ${only.join(' ')}` : ''}\`, ${started.toISOString().slice(0, 16).replace('T', ' ')}-${ended.toISOString().slice(11, 16)} UTC,`,
    `${machine}; load average ${loadNow()} at the end; peak RSS of the bench process ${(peakRss / 2 ** 20).toFixed(0)} MiB.`,
    '',
    '| figure | result | target | baseline (same run) |',
    '| --- | --- | --- | --- |',
  ];
  writeFileSync(markdownFile, `${[...header, ...markdownRows].join('\n')}\n`);
  console.log(`\nwrote ${markdownFile}`);
}

/** One bench line as a Markdown table row (pipes in the text escaped). */
function markdownRow({ name, value, target, baseline }: BenchLine): string {
  const cell = (text: string | undefined) => (text ?? '').replace(/\|/g, '\\|').replace(/\n/g, ' ');
  return `| ${cell(name)} | ${cell(value)} | ${cell(target)} | ${cell(baseline)} |`;
}

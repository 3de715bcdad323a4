/**
 * `npm run bench`: every benchmark in one process, printed as one table. Ratios in the README come from
 * one run of this, never from timed unit tests. `npm run bench -- replay` runs only matching groups.
 */
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
const only = process.argv.slice(2);

const cpus = cpus_();
console.log(`kvflow bench ${new Date().toISOString().slice(0, 16)}Z: ${cpus.length} x ${cpus[0]?.model ?? 'unknown CPU'}, ` +
  `${(totalmem() / 2 ** 30).toFixed(0)} GiB, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} at start`);

let peakRss = process.memoryUsage().rss;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 20);
const selected = Object.entries({ ...groups, ...onDemand }).filter(([name]) =>
  only.length > 0 ? only.includes(name) : name in groups,
);
for (const [name, run] of selected) {
  console.log(`\n## ${name} (load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} at start)`);
  for (const line of await run()) console.log(formatLine(line));
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
console.log(`\nload average ${loadavg().map((l) => l.toFixed(1)).join(' ')} at end`);
console.log(`\npeak RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB (node ${process.version}, ${process.arch})`);

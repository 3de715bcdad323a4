/**
 * `npm run bench`: every benchmark in one process, printed as one table. Ratios in the README come from
 * one run of this, never from timed unit tests. `npm run bench -- replay` runs only matching groups.
 */
import { benchGateway } from './gateway.js';
import { benchImport } from './import.js';
import { benchNative } from './native.js';
import { benchReplay, type BenchLine } from './replay.js';
import { benchScale } from './scale.js';
import { benchSimulate } from './simulate.js';
import { benchTensor } from './tensor.js';

const groups: Record<string, () => Promise<BenchLine[]>> = {
  replay: benchReplay,
  import: benchImport,
  simulate: benchSimulate,
  native: benchNative,
  tensor: benchTensor,
  gateway: benchGateway,
};
/** Groups that run only when named: they take minutes. */
const onDemand: Record<string, () => Promise<BenchLine[]>> = { scale: benchScale };
const only = process.argv.slice(2);

let peakRss = process.memoryUsage().rss;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 20);
const selected = Object.entries({ ...groups, ...onDemand }).filter(([name]) =>
  only.length > 0 ? only.includes(name) : name in groups,
);
for (const [name, run] of selected) {
  console.log(`\n## ${name}`);
  for (const line of await run()) console.log(`${line.name.padEnd(36)} ${line.value}`);
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}
clearInterval(sampler);
console.log(`\npeak RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB (node ${process.version}, ${process.arch})`);

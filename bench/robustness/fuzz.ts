/**
 * `npm run fuzz [-- --cases N --seed S]`: the fuzz harness at full size (default 10,000 cases), printing
 * what it sent, how the servers and the CLI answered, and every contract violation. Exit 1 on any.
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runFuzz } from './fuzz-harness.js';

const { values } = parseArgs({ options: { cases: { type: 'string', default: '10000' }, seed: { type: 'string', default: '20261201' } } });
const cases = Number(values.cases);
const seed = Number(values.seed);
if (!Number.isInteger(cases) || cases < 1 || !Number.isInteger(seed)) {
  process.stderr.write('kvflow fuzz: --cases and --seed take integers\n');
  process.exit(2);
}
const repo = fileURLToPath(new URL('../../../', import.meta.url));
const report = await runFuzz({ cases, seed, cli: { path: `${repo}dist/src/cli/main.js`, cwd: repo } });
console.log(JSON.stringify(report, null, 2));
if (report.violations.length > 0) {
  process.stderr.write(`kvflow fuzz: ${report.violations.length} contract violations (seed ${seed})\n`);
  process.exitCode = 1;
}

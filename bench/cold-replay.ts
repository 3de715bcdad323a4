/**
 * Child process of the replay bench: the CLI's own replay path (streaming reader, a chunk of the file at a
 * time, one lru run at 1M tokens) six times in one fresh process; prints the `seconds` each run reports,
 * as a JSON array. The first is what `kvflow replay` reports (a cold process); the others are the same
 * code once compiled.
 * Usage: node dist/bench/cold-replay.js TRACE
 */
import { policyFactory } from '../src/cache/policy-registry.js';
import { replayStream } from '../src/replay/replay-stream.js';
import { streamTraceBatches } from '../src/workload/read.js';

const path = process.argv[2]!;
const seconds: number[] = [];
for (let run = 0; run < 6; run++) {
  const report = await replayStream(path, streamTraceBatches(path), { policies: [policyFactory('lru')], capacities: [2 ** 20] });
  seconds.push(report.results[0]!.seconds);
}
console.log(JSON.stringify(seconds));

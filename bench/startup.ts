/**
 * Start-up benchmark (issue 14): `node -e 0`, `kvflow --help` and a one-config `kvflow replay` of the
 * Mooncake trace, as whole processes, interleaved run by run so that load on the machine hits all three
 * alike; medians of wall time. Targets: --help within 2x of `node -e 0`, the replay under 0.25 s.
 */
import { median, ms, processSeconds } from './measure.js';
import { repoRoot, sharedTrace } from './paths.js';
import type { BenchLine } from './replay.js';

const RUNS = 9;

export async function benchStartup(): Promise<BenchLine[]> {
  const cli = `${repoRoot}dist/src/cli/main.js`;
  const trace = sharedTrace('mooncake_conversation_trace.jsonl');
  const commands: Record<string, string[]> = {
    node: ['-e', '0'],
    help: [cli, '--help'],
    replay: [cli, 'replay', '--trace', trace, '--capacity', '1M', '--policy', 'lru'],
  };
  const times: Record<string, number[]> = { node: [], help: [], replay: [] };
  for (let i = 0; i <= RUNS; i++) {
    for (const [name, args] of Object.entries(commands)) {
      const { seconds } = processSeconds(process.execPath, args);
      if (i > 0) times[name]!.push(seconds); // the first round warms the page cache
    }
  }
  const node = median(times.node!);
  const help = median(times.help!);
  const replay = median(times.replay!);
  const baseline = `node -e 0: ${ms(node)}`;
  return [
    { name: 'start-up: kvflow --help', value: `${ms(help)}, ${(help / node).toFixed(2)}x node -e 0`, target: '<= 2x node -e 0', baseline },
    { name: 'start-up: replay lru 1M (whole CLI)', value: `${(replay * 1000).toFixed(0)} ms wall, ${(replay / node).toFixed(2)}x node -e 0`, target: '< 250 ms', baseline },
  ];
}

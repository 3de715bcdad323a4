/**
 * Start-up benchmark (issue 14): `node -e 0`, `kvflow --help` and a one-config `kvflow replay` of the
 * Mooncake trace, as whole processes, interleaved run by run so that load on the machine hits all alike;
 * medians of wall time. Targets: --help within 2x of `node -e 0`, the replay under 0.25 s. Also the
 * library's subpath exports: `import('kvflow/cache')` (no HTTP, plotting or tensor library) under 100 ms.
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
    // Resolved by package name (a package may import itself through its exports).
    importCache: ['--input-type=module', '-e', "await import('kvflow/cache')"],
    importGraph: ['--input-type=module', '-e', "await import('kvflow/graph')"],
    importRoot: ['--input-type=module', '-e', "await import('kvflow')"],
  };
  const times: Record<string, number[]> = Object.fromEntries(Object.keys(commands).map((name) => [name, []]));
  for (let i = 0; i <= RUNS; i++) {
    for (const [name, args] of Object.entries(commands)) {
      const { seconds } = processSeconds(process.execPath, args, repoRoot);
      if (i > 0) times[name]!.push(seconds); // the first round warms the page cache
    }
  }
  const node = median(times.node!);
  const help = median(times.help!);
  const replay = median(times.replay!);
  const baseline = `node -e 0: ${ms(node)}`;
  // Import time: the process's wall time minus node's own start-up (both medians of the same rounds).
  const imported = (name: string, what: string): BenchLine => {
    const seconds = median(times[name]!) - node;
    return { name: `start-up: import('${what}')`, value: `${ms(seconds)} beyond node -e 0`, target: what === 'kvflow' ? 'reported' : '< 100 ms', baseline };
  };
  return [
    { name: 'start-up: kvflow --help', value: `${ms(help)}, ${(help / node).toFixed(2)}x node -e 0`, target: '<= 2x node -e 0', baseline },
    { name: 'start-up: replay lru 1M (whole CLI)', value: `${(replay * 1000).toFixed(0)} ms wall, ${(replay / node).toFixed(2)}x node -e 0`, target: '< 250 ms', baseline },
    imported('importCache', 'kvflow/cache'),
    imported('importGraph', 'kvflow/graph'),
    imported('importRoot', 'kvflow'),
  ];
}

/**
 * Simulator benchmark (issue 3): concurrent-1024 at 1x, 4x and 16x its length (more rounds), kvflow
 * setup, whole-run wall time. Cost must grow linearly; the target is >= 10,000x real time.
 */
import { readFile } from 'node:fs/promises';
import { AgentStepGraph } from '../src/graph/graph.js';
import { WorkflowSte } from '../src/graph/workflow-ste.js';
import { resolveHardware } from '../src/sim/hardware.js';
import { SERVING_DEFAULTS, simulate } from '../src/sim/simulate.js';
import type { SetupName } from '../src/sim/setups.js';
import { generateRequests } from '../src/workload/generate.js';
import { parseWorkflowSpec } from '../src/workload/spec.js';
import type { BenchLine } from './replay.js';
import { repoRoot } from './paths.js';

export async function benchSimulate(): Promise<BenchLine[]> {
  const path = `${repoRoot}workloads/paper/concurrent-1024.json`;
  const base = parseWorkflowSpec(JSON.parse(await readFile(path, 'utf8')), path);
  const hardware = resolveHardware({ gpu: 'A10G', model: 'Llama-3.1-8B' });
  const lines: BenchLine[] = [];
  let firstPerRequest = 0;
  // One untimed run first, so the 1x numbers measure the simulator rather than the JIT warming up.
  for (const scale of [0, 1, 4, 16]) {
    const spec = { ...base, rounds: base.rounds * Math.max(scale, 1) };
    const requests = generateRequests(spec, { seed: 1 });
    const graph = AgentStepGraph.fromSpec(spec);
    for (const setup of ['sglang', 'kvflow'] as SetupName[]) {
      const started = performance.now();
      const { report } = simulate({
        requests,
        setups: [setup],
        hardware,
        serving: SERVING_DEFAULTS,
        steSource: () => new WorkflowSte(graph, { shareAgents: spec.shareAgents }),
        workload: {},
      });
      const wall = (performance.now() - started) / 1000;
      if (scale === 0) continue;
      const simulated = report.results[0]!.makespan;
      const perRequest = (wall / requests.length) * 1e6;
      if (scale === 1 && setup === 'kvflow') firstPerRequest = perRequest;
      lines.push({
        name: `concurrent-1024 x${scale} ${setup}`,
        value:
          `${requests.length} req, ${wall.toFixed(2)} s wall, ${(simulated / wall).toFixed(0)}x real time, ` +
          `${(requests.length / wall).toFixed(0)} req/s, ${perRequest.toFixed(0)} us/req` +
          (setup === 'kvflow' && scale > 1 ? ` (${(perRequest / firstPerRequest).toFixed(2)}x the x1 cost per request)` : ''),
      });
    }
  }
  return lines;
}

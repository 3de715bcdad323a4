/**
 * The STE relaxation kvflow used before src/graph/relax.ts searched outward from the active agents:
 * every rule swept over every agent until nothing moved (O(agents) per event). Kept as the reference
 * the search is checked against; agents further than `horizon` lose their value afterwards.
 */
import { loopContinues, type ProgressView } from '../../src/graph/relax.js';
import type { Topology } from '../../src/graph/topology.js';

export function naiveRelaxSteps(topology: Topology, progress: ProgressView, horizon = Infinity): Float64Array {
  const { running, ended, announced, loopTaken } = progress;
  const { loops, joins, loopOf } = topology;
  const distance = new Float64Array(topology.size).fill(Infinity);
  const launch = (agent: number): number => (running[agent]! > 0 || ended[agent]! > 0 ? 0 : distance[agent]!);
  const exitLaunch = (agent: number): number => {
    const index = loopOf[agent]!;
    const loop = loops[index];
    if (loop === undefined || loop.count === 0) return launch(agent);
    return launch(agent) + Math.max(0, loop.count - loopTaken[index]!) * loop.length;
  };
  const estimate = (agent: number): number => {
    if (running[agent]! > 0) return 0;
    let best = announced[agent]! > 0 ? 1 : Infinity;
    for (const predecessor of topology.stepPredecessors[agent]!) best = Math.min(best, exitLaunch(predecessor) + 1);
    for (const index of topology.loopsInto[agent]!) {
      if (loopContinues(loops[index]!, loopTaken[index]!)) best = Math.min(best, launch(loops[index]!.from) + 1);
    }
    for (const index of topology.joinsInto[agent]!) {
      let lastMember = 0;
      for (const member of joins[index]!.members) lastMember = Math.max(lastMember, exitLaunch(member));
      best = Math.min(best, lastMember + 1);
    }
    if (agent === topology.start && progress.roundsLeft) {
      for (const terminal of topology.terminals) best = Math.min(best, exitLaunch(terminal) + 1);
    }
    return best;
  };
  for (let sweep = 0; sweep <= topology.size; sweep++) {
    let changed = false;
    for (let agent = 0; agent < topology.size; agent++) {
      const value = estimate(agent);
      if (value < distance[agent]!) {
        distance[agent] = value;
        changed = true;
      }
    }
    if (!changed) break;
  }
  return distance.map((value) => (value > horizon ? Infinity : value));
}

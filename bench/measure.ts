/**
 * Timing helpers shared by the benchmarks. On a shared machine wall time includes waiting for a core, so
 * in-process kernels are also timed in CPU time (user + system of this process), which other processes
 * disturb far less; each figure says which it is.
 */
import { spawnSync } from 'node:child_process';

export interface Timing {
  wall: number;
  cpu: number;
}

/** Runs `body` `runs` times after one warm-up run; the median wall and CPU seconds. */
export function medianTiming(runs: number, body: () => void): Timing {
  body();
  const walls: number[] = [];
  const cpus: number[] = [];
  for (let i = 0; i < runs; i++) {
    const cpu = process.cpuUsage();
    const started = performance.now();
    body();
    walls.push((performance.now() - started) / 1000);
    const used = process.cpuUsage(cpu);
    cpus.push((used.user + used.system) / 1e6);
  }
  return { wall: median(walls), cpu: median(cpus) };
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Wall seconds of one child process run to completion; throws when it fails. */
export function processSeconds(command: string, args: readonly string[], cwd?: string): { seconds: number; stdout: string } {
  const started = performance.now();
  const run = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 * 2 ** 20, ...(cwd && { cwd }) });
  const seconds = (performance.now() - started) / 1000;
  if (run.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${run.status}): ${run.stderr}`);
  return { seconds, stdout: run.stdout };
}

/** 12.3M, 456k, 789 */
export function rate(perSecond: number): string {
  if (perSecond >= 1e6) return `${(perSecond / 1e6).toFixed(2)}M`;
  return perSecond >= 1e4 ? `${(perSecond / 1e3).toFixed(0)}k` : perSecond.toFixed(0);
}

export function ms(seconds: number): string {
  return `${(seconds * 1000).toFixed(1)} ms`;
}

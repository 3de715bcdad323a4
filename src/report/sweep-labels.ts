/**
 * Short labels for sweep runs, built from the values that vary between runs (`sequential-4096`,
 * `cpuPoolBytes 8 GB`) rather than whole configuration strings.
 */
import { basename, extname } from 'node:path';

const PATH_KEYS = new Set(['workload', 'trace', 'config', 'workflow']);

/** A value as a person would write it: a file's name without folder or extension, bytes in GB, lists joined. */
export function shortValue(key: string, value: unknown): string {
  if (typeof value === 'string' && PATH_KEYS.has(key)) return basename(value, extname(value));
  if (typeof value === 'number' && /bytes|bandwidth/i.test(key)) return formatBytes(value, /bandwidth/i.test(key) ? '/s' : '');
  if (Array.isArray(value)) return value.map((v) => shortValue(key, v)).join(',');
  if (value === null) return 'inf';
  return String(value);
}

/** `8e9` -> `8 GB`, `2.5e10` -> `25 GB`, `1536` -> `1.5 kB` (decimal units, as the presets quote them). */
export function formatBytes(bytes: number, suffix = ''): string {
  for (const [unit, size] of [['TB', 1e12], ['GB', 1e9], ['MB', 1e6], ['kB', 1e3]] as const) {
    if (Math.abs(bytes) >= size) return `${Number((bytes / size).toPrecision(3))} ${unit}${suffix}`;
  }
  return `${bytes} B${suffix}`;
}

/** `workload` -> `workload`, `cpuPoolBytes` -> `cpu pool`: a parameter name for a label. */
function shortKey(key: string): string {
  return key
    .replace(/Bytes$/, '')
    .replace(/([a-z])([A-Z])/g, '$1 $2')
    .toLowerCase();
}

/** One part of a run label: a path's short name alone, anything else `key value`. */
export function labelPart(key: string, value: unknown): string {
  return PATH_KEYS.has(key) ? shortValue(key, value) : `${shortKey(key)} ${shortValue(key, value)}`;
}

/** The parameters whose values differ between runs, in the order the first run lists them. */
export function varyingKeys(runs: readonly { params: Record<string, unknown> }[]): string[] {
  const keys = [...new Set(runs.flatMap((run) => Object.keys(run.params)))];
  return keys.filter((key) => new Set(runs.map((run) => JSON.stringify(run.params[key] ?? null))).size > 1);
}

/** A run's short label from the given keys (`run N` when there are none). */
export function shortLabel(params: Record<string, unknown>, keys: readonly string[], index: number): string {
  const parts = keys.filter((key) => key in params).map((key) => labelPart(key, params[key]));
  return parts.length > 0 ? parts.join(' · ') : `run ${index}`;
}

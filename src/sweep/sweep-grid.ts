/**
 * Sweep grids (`kvflow sweep GRID.json`): a base configuration of `simulate` or `replay`, and axes whose
 * cartesian product gives the runs, optionally times a list of explicit points. Field names are the
 * commands' flags in camelCase; file paths are relative to the grid file. Problems read
 * `grid.json: axes.gpu.1: problem`, like every other kvflow document.
 */
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { z } from 'zod';
import { nearestName, unknownName } from '../did-you-mean.js';
import { InputError } from '../errors.js';
import { inputErrorFrom } from '../zod-issues.js';
import { readInputJson } from '../input-files.js';
import { isPolicyPath } from '../config/policy-spec.js';
import type { SetupSpec } from '../config/setup-spec.js';
import type { ConfigField } from '../config/field.js';
import { SIMULATION_FIELDS, type SimulationSettings } from '../config/simulation-fields.js';
import { REPLAY_FIELDS, type ReplaySettings } from '../config/replay-fields.js';

/** One simulate run's fields: `kvflow simulate`'s flags, from the same tables (config/simulation-fields.ts). */
const simulateFields = Object.fromEntries(Object.entries(SIMULATION_FIELDS).map(([name, field]) => [name, (field as ConfigField).schema(z)])) as {
  [K in keyof typeof SIMULATION_FIELDS]: ReturnType<(typeof SIMULATION_FIELDS)[K]['schema']>;
};

/** One replay run's fields: `kvflow replay`'s run flags, from the same table (config/replay-fields.ts). */
const replayFields = Object.fromEntries(Object.entries(REPLAY_FIELDS).map(([name, field]) => [name, (field as ConfigField).schema(z)])) as {
  [K in keyof typeof REPLAY_FIELDS]: ReturnType<(typeof REPLAY_FIELDS)[K]['schema']>;
};

export type SweepKind = 'simulate' | 'replay';
export type SimulatePoint = SimulationSettings;
export type ReplayPoint = ReplaySettings;

/** One run of a sweep: where it sits in the grid and its full configuration. */
export interface SweepRun {
  index: number;
  kind: SweepKind;
  /** The axis and point values that make this run, as written in the grid (for labels and the JSON). */
  params: Record<string, unknown>;
  /** Base, point and axis values merged; paths resolved against the grid's folder. */
  config: SimulatePoint & ReplayPoint;
}

export interface SweepGrid {
  name: string;
  description?: string;
  kind: SweepKind;
  file: string;
  runs: SweepRun[];
}

const PATH_FIELDS = ['workload', 'trace', 'config', 'workflow'] as const;
const MAX_RUNS = 10_000;

function gridSchema(kind: SweepKind) {
  const fields = kind === 'simulate' ? simulateFields : replayFields;
  const point = z.strictObject(Object.fromEntries(Object.entries(fields).map(([key, schema]) => [key, schema.optional()])));
  const axes = z.strictObject(
    Object.fromEntries(Object.entries(fields).map(([key, schema]) => [key, z.array(schema).min(1, { error: 'list at least one value' }).optional()])),
  );
  return z.strictObject({
    name: z.string().min(1),
    description: z.string().optional(),
    kind: z.literal(kind),
    base: point.default({}),
    axes: axes.default({}),
    points: z.array(point).min(1).optional(),
  });
}

/** Validates a parsed grid document; `file` labels errors and anchors relative paths. */
export function parseSweepGrid(json: unknown, file: string): SweepGrid {
  const kind = (json as { kind?: unknown } | null)?.kind;
  if (kind !== 'simulate' && kind !== 'replay') throw InputError.atPath(file, 'kind', 'must be "simulate" or "replay"');
  const result = gridSchema(kind).safeParse(json);
  if (!result.success) throw inputErrorFrom(result.error, { file }, { problem: (issue) => gridProblem(issue, json, kind) });
  const grid = result.data;
  // Labels and `params` show values as written ("512k"); configs get the parsed ones.
  const raw = json as { axes?: Record<string, unknown[]>; points?: Record<string, unknown>[] };
  const points = grid.points ?? [{}];
  const axes = Object.entries(grid.axes).filter((entry): entry is [string, unknown[]] => entry[1] !== undefined);
  const combos = axes.reduce((total, [, values]) => total * values.length, points.length);
  if (combos > MAX_RUNS) throw InputError.atPath(file, 'axes', `expands to ${combos} runs, more than ${MAX_RUNS}`);
  const folder = dirname(file);
  const runs: SweepRun[] = [];
  points.forEach((point, p) => {
    for (const picks of cartesian(axes.map(([, values]) => values.length))) {
      const params: Record<string, unknown> = { ...(raw.points?.[p] ?? {}) };
      const merged: Record<string, unknown> = { ...grid.base, ...point };
      axes.forEach(([key, values], a) => {
        params[key] = raw.axes![key]![picks[a]!];
        merged[key] = values[picks[a]!];
      });
      for (const field of PATH_FIELDS) {
        const value = merged[field];
        if (typeof value === 'string') merged[field] = displayPath(resolve(folder, value));
      }
      resolvePolicyPaths(merged, folder);
      runs.push({ index: runs.length, kind, params, config: merged as SweepRun['config'] });
    }
  });
  for (const run of runs) checkRun(run, file);
  return { name: grid.name, ...(grid.description !== undefined && { description: grid.description }), kind, file, runs };
}

/** Zod's issue in kvflow's words: unknown fields and names say what was probably meant. */
function gridProblem(issue: z.core.$ZodIssue, json: unknown, kind: 'simulate' | 'replay'): string {
  if (issue.code === 'unrecognized_keys') {
    const fields = issue.path.length === 0 ? ['name', 'description', 'kind', 'base', 'axes', 'points'] : Object.keys(kind === 'simulate' ? simulateFields : replayFields);
    const nearest = nearestName(issue.keys[0] ?? '', fields);
    return nearest === undefined ? 'unknown field' : `unknown field (did you mean ${nearest}?)`;
  }
  if (issue.code === 'invalid_value') {
    const value = issue.path.reduce<unknown>((at, key) => (at as Record<PropertyKey, unknown> | undefined)?.[key], json);
    if (typeof value === 'string') return unknownName(value, issue.values.map(String));
  }
  return issue.message;
}

export async function loadSweepGrid(file: string): Promise<SweepGrid> {
  return parseSweepGrid(await readInputJson(file), file);
}

/** `gpu=H100-SXM seed=2`: a run's label in tables and the HTML report. */
export function runLabel(run: SweepRun): string {
  const parts = Object.entries(run.params).map(([key, value]) => `${key}=${Array.isArray(value) ? value.join(',') : String(value)}`);
  return parts.length > 0 ? parts.join(' ') : `run ${run.index}`;
}

function checkRun(run: SweepRun, file: string): void {
  const { config } = run;
  const where = `runs.${run.index} (${runLabel(run)})`;
  if (run.kind === 'simulate' && (config.workload === undefined) === (config.trace === undefined)) {
    throw InputError.atPath(file, where, 'give exactly one of workload or trace (in base, points or axes)');
  }
  if (run.kind === 'replay' && config.trace === undefined) throw InputError.atPath(file, where, 'give a trace (in base, points or axes)');
  if (run.kind === 'replay' && config.graph === 'declared' && config.workflow === undefined) {
    throw InputError.atPath(file, where, 'graph "declared" needs a workflow spec (workflow)');
  }
}

/** Policy files named in `policy` lists and setup definitions are relative to the grid, like other paths. */
function resolvePolicyPaths(config: Record<string, unknown>, folder: string): void {
  const fix = (spec: string) => (isPolicyPath(spec) ? resolve(folder, spec) : spec);
  if (Array.isArray(config.policy)) config.policy = (config.policy as string[]).map(fix);
  for (const field of ['setups', 'setup'] as const) {
    if (!Array.isArray(config[field])) continue;
    config[field] = (config[field] as SetupSpec[]).map((spec) =>
      typeof spec === 'object' && spec.policy !== undefined ? { ...spec, policy: fix(spec.policy) } : spec,
    );
  }
}

/** Every combination of one index per axis (axis i has `sizes[i]` values), the last axis varying fastest. */
function* cartesian(sizes: readonly number[]): Generator<number[]> {
  const picks = sizes.map(() => 0);
  for (;;) {
    yield [...picks];
    let axis = sizes.length - 1;
    while (axis >= 0 && ++picks[axis]! === sizes[axis]) picks[axis--] = 0;
    if (axis < 0) return;
  }
}

/** Paths relative to the working directory when inside it (shorter, the same for every worker). */
function displayPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

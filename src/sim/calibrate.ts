/**
 * Fits the roofline cost model's coefficients (DESIGN.md section 5) to measured iterations:
 *
 *   seconds = max(compute / mfu, memory / bandwidthEfficiency) + iterationOverhead
 *
 * where `compute` and `memory` are a row's seconds at 100% of peak FLOP/s and of peak memory bandwidth,
 * taken from the cost model itself so the fit and the simulator can never disagree on the FLOP and byte
 * counts. With a = 1/mfu and b = 1/bandwidthEfficiency a row is compute-bound exactly when
 * compute/memory > b/a, so every consistent split of the rows into the two regimes is a threshold on
 * that ratio: the fit tries every threshold, solves each by weighted linear least squares, and keeps the
 * one with the smallest error. Errors are relative (weights 1/seconds^2), so a 20 ms decode step counts
 * as much as a 2 s prefill.
 */
import { InputError } from '../errors.js';
import type { CalibrationRow } from './calibration-csv.js';
import { CostModel, type IterationBatch } from './cost-model.js';
import type { HardwareConfig } from './hardware.js';

export interface RooflineFit {
  mfu: number;
  bandwidthEfficiency: number;
  iterationOverhead: number;
  /**
   * False for a coefficient the rows cannot determine (no row is bound by it): its value is then the
   * hardware's (preset or config) value, unchanged.
   */
  identified: { mfu: boolean; bandwidthEfficiency: boolean; iterationOverhead: boolean };
  /** Rows the fitted model calls compute-bound and memory-bound. */
  boundRows: { compute: number; memory: number };
  error: FitError;
  rows: number;
}

export interface FitError {
  /** Root mean square of (modelled - measured), seconds. */
  rmseSeconds: number;
  /** Mean of |modelled - measured| / measured. */
  meanRelativeError: number;
  maxRelativeError: number;
}

/** A row's roofline terms: seconds at full compute and at full memory bandwidth, and the measurement. */
interface Terms {
  compute: number;
  memory: number;
  seconds: number;
}

/** Effectively infinite: makes one side of the roofline vanish when isolating the other. */
const UNBOUNDED = 1e30;

/** The iteration a row describes (see calibration-csv.ts for the columns). */
export function rowBatch(row: CalibrationRow): IterationBatch {
  if (row.kind === 'prefill') return { prefill: [{ newTokens: row.batchTokens, contextTokens: row.contextTokens }], decode: [] };
  return { prefill: [], decode: Array.from({ length: row.batchTokens }, () => ({ contextTokens: row.contextTokens })) };
}

/**
 * Seconds the cost model gives a row's iteration at the given coefficients, as an eager iteration (the
 * fit's form: every measured row pays `iterationOverhead`, whatever the engine profile does for CUDA-graph
 * decodes).
 */
export function modelledSeconds(row: CalibrationRow, hardware: HardwareConfig): number {
  return new CostModel(hardware).forwardSeconds(rowBatch(row)) + hardware.iterationOverhead;
}

/**
 * Least-squares fit of mfu, bandwidthEfficiency and iterationOverhead for `hardware`'s GPU and model.
 * Throws `InputError` (naming `source`) when no split of the rows gives positive coefficients.
 */
export function fitRoofline(rows: readonly CalibrationRow[], hardware: HardwareConfig, source = 'rows'): RooflineFit {
  const computeOnly = new CostModel({ ...hardware, mfu: 1, bandwidthEfficiency: UNBOUNDED, iterationOverhead: 0 });
  const memoryOnly = new CostModel({ ...hardware, mfu: UNBOUNDED, bandwidthEfficiency: 1, iterationOverhead: 0 });
  const terms: Terms[] = rows.map((row) => {
    const batch = rowBatch(row);
    return { compute: computeOnly.iterationSeconds(batch), memory: memoryOnly.iterationSeconds(batch), seconds: row.seconds };
  });
  const order = terms.map((_, i) => i).sort((i, j) => terms[i]!.compute / terms[i]!.memory - terms[j]!.compute / terms[j]!.memory);
  const fallback = { a: 1 / hardware.mfu, b: 1 / hardware.bandwidthEfficiency };

  let best: { a: number; b: number; overhead: number; identifiedA: boolean; identifiedB: boolean; error: number } | undefined;
  for (let split = 0; split <= terms.length; split++) {
    const memoryBound = new Set(order.slice(0, split));
    const candidate = fitSplit(terms, memoryBound, fallback);
    if (!candidate) continue;
    const error = relativeSquaredError(terms, candidate);
    if (!best || error < best.error) best = { ...candidate, error };
  }
  if (!best) {
    throw new InputError(`${source}: the rows do not determine the coefficients (every fit gave a non-positive mfu or bandwidth efficiency)`);
  }
  const compute = terms.filter((t) => best.a * t.compute >= best.b * t.memory).length;
  return {
    mfu: 1 / best.a,
    bandwidthEfficiency: 1 / best.b,
    iterationOverhead: best.overhead,
    identified: { mfu: best.identifiedA && compute > 0, bandwidthEfficiency: best.identifiedB && compute < terms.length, iterationOverhead: true },
    boundRows: { compute, memory: terms.length - compute },
    error: fitError(terms, best),
    rows: terms.length,
  };
}

interface Coefficients {
  a: number;
  b: number;
  overhead: number;
}

/**
 * Weighted least squares for one regime split; an empty side keeps its fallback coefficient. The
 * overhead is held at 0 when the unconstrained fit makes it negative. Undefined when the split gives a
 * non-positive slope or a singular system.
 */
function fitSplit(terms: Terms[], memoryBound: Set<number>, fallback: { a: number; b: number }): (Coefficients & { identifiedA: boolean; identifiedB: boolean }) | undefined {
  const identifiedB = memoryBound.size > 0;
  const identifiedA = memoryBound.size < terms.length;
  const design = (withOverhead: boolean) =>
    terms.map((t, i) => {
      const isMemory = memoryBound.has(i);
      // The side without rows is fixed at its fallback, so it moves to the known part of the target.
      const columns: number[] = [];
      if (identifiedB) columns.push(isMemory ? t.memory : 0);
      if (identifiedA) columns.push(isMemory ? 0 : t.compute);
      if (withOverhead) columns.push(1);
      return columns;
    });
  const target = terms.map((t) => t.seconds);
  const weights = terms.map((t) => 1 / (t.seconds * t.seconds));
  for (const withOverhead of [true, false]) {
    const solution = solveLeastSquares(design(withOverhead), target, weights);
    if (!solution) continue;
    let k = 0;
    const b = identifiedB ? solution[k++]! : fallback.b;
    const a = identifiedA ? solution[k++]! : fallback.a;
    const overhead = withOverhead ? solution[k]! : 0;
    if (withOverhead && overhead < 0) continue;
    if (!(a > 0 && b > 0)) return undefined;
    return { a, b, overhead, identifiedA, identifiedB };
  }
  return undefined;
}

function predict(t: Terms, c: Coefficients): number {
  return Math.max(c.a * t.compute, c.b * t.memory) + c.overhead;
}

function relativeSquaredError(terms: Terms[], c: Coefficients): number {
  let sum = 0;
  for (const t of terms) sum += ((predict(t, c) - t.seconds) / t.seconds) ** 2;
  return sum;
}

function fitError(terms: Terms[], c: Coefficients): FitError {
  let squares = 0;
  let relative = 0;
  let maxRelative = 0;
  for (const t of terms) {
    const residual = predict(t, c) - t.seconds;
    squares += residual * residual;
    const r = Math.abs(residual) / t.seconds;
    relative += r;
    maxRelative = Math.max(maxRelative, r);
  }
  return { rmseSeconds: Math.sqrt(squares / terms.length), meanRelativeError: relative / terms.length, maxRelativeError: maxRelative };
}

/**
 * Minimises sum_i w_i (x . rows_i - y_i)^2 through the normal equations, columns scaled to unit size
 * first (terms span microseconds to seconds) and Gaussian elimination with partial pivoting. Undefined
 * when the columns are linearly dependent (or there are none).
 */
export function solveLeastSquares(rows: readonly number[][], y: readonly number[], weights?: readonly number[]): number[] | undefined {
  const n = rows[0]?.length ?? 0;
  if (n === 0 || rows.length < n) return undefined;
  // Loops rather than Math.max(...array): spreading a large array into arguments overflows the stack.
  const scale = Array.from({ length: n }, (_, j) => rows.reduce((most, row) => Math.max(most, Math.abs(row[j]!)), 0) || 1);
  const normal = Array.from({ length: n }, () => new Array<number>(n + 1).fill(0));
  rows.forEach((row, i) => {
    const w = weights?.[i] ?? 1;
    for (let j = 0; j < n; j++) {
      const xj = row[j]! / scale[j]!;
      for (let k = 0; k < n; k++) normal[j]![k]! += w * xj * (row[k]! / scale[k]!);
      normal[j]![n]! += w * xj * y[i]!;
    }
  });
  const magnitude = normal.reduce((most, r) => r.slice(0, n).reduce((m, x) => Math.max(m, Math.abs(x)), most), 0);
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(normal[r]![col]!) > Math.abs(normal[pivot]![col]!)) pivot = r;
    if (Math.abs(normal[pivot]![col]!) <= magnitude * 1e-12) return undefined;
    [normal[col], normal[pivot]] = [normal[pivot]!, normal[col]!];
    for (let r = 0; r < n; r++) {
      if (r === col) continue;
      const factor = normal[r]![col]! / normal[col]![col]!;
      for (let k = col; k <= n; k++) normal[r]![k]! -= factor * normal[col]![k]!;
    }
  }
  return normal.map((r, j) => r[n]! / r[j]! / scale[j]!);
}

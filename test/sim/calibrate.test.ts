import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { modelledSeconds, fitRoofline, solveLeastSquares } from '../../src/sim/calibrate.js';
import { parseCalibrationCsv, readCalibrationCsv, type CalibrationRow } from '../../src/sim/calibration-csv.js';
import { resolveHardware, type HardwareConfig } from '../../src/sim/hardware.js';
import { Rng } from '../../src/workload/rng.js';

const EXAMPLE = fileURLToPath(new URL('../../workloads/calibration/example.csv', import.meta.url));
const TRUTH = { mfu: 0.42, bandwidthEfficiency: 0.71, iterationOverhead: 0.0065 };

/** Prefill chunks (compute-bound when large) and decode batches (memory-bound): both regimes. */
const SHAPES: Omit<CalibrationRow, 'line' | 'seconds'>[] = [
  ...[128, 512, 2048, 4096, 8192].flatMap((batchTokens) => [0, 4096].map((contextTokens) => ({ kind: 'prefill' as const, batchTokens, contextTokens }))),
  ...[1, 8, 32, 128].flatMap((batchTokens) => [512, 8192].map((contextTokens) => ({ kind: 'decode' as const, batchTokens, contextTokens }))),
];

function rowsFrom(hardware: HardwareConfig, noise = 0, seed = 1): CalibrationRow[] {
  const rng = new Rng(seed);
  return SHAPES.map((shape, i) => {
    const row = { ...shape, line: i + 2, seconds: 0 };
    return { ...row, seconds: modelledSeconds(row, hardware) * (1 + noise * (2 * rng.next() - 1)) };
  });
}

function csvError(text: string): string {
  try {
    parseCalibrationCsv(text, 'rows.csv');
  } catch (error) {
    expect(error).toBeInstanceOf(InputError);
    return (error as Error).message;
  }
  throw new Error('expected an InputError');
}

describe('fitRoofline', () => {
  const base = resolveHardware({ gpu: 'A10G', model: 'Llama-3.1-8B' });
  const truth = { ...base, ...TRUTH };

  it('recovers known coefficients from exact rows', () => {
    const fit = fitRoofline(rowsFrom(truth), base);
    expect(fit.mfu).toBeCloseTo(TRUTH.mfu, 6);
    expect(fit.bandwidthEfficiency).toBeCloseTo(TRUTH.bandwidthEfficiency, 6);
    expect(fit.iterationOverhead).toBeCloseTo(TRUTH.iterationOverhead, 8);
    expect(fit.identified).toEqual({ mfu: true, bandwidthEfficiency: true, iterationOverhead: true });
    expect(fit.boundRows.compute).toBeGreaterThan(0);
    expect(fit.boundRows.memory).toBeGreaterThan(0);
    expect(fit.error.maxRelativeError).toBeLessThan(1e-9);
  });

  it('recovers them within a few percent from rows with 3% noise, and reports the error', () => {
    for (const seed of [1, 2, 3]) {
      const fit = fitRoofline(rowsFrom(truth, 0.03, seed), base);
      expect(Math.abs(fit.mfu / TRUTH.mfu - 1)).toBeLessThan(0.05);
      expect(Math.abs(fit.bandwidthEfficiency / TRUTH.bandwidthEfficiency - 1)).toBeLessThan(0.05);
      expect(Math.abs(fit.iterationOverhead - TRUTH.iterationOverhead)).toBeLessThan(0.002);
      expect(fit.error.meanRelativeError).toBeGreaterThan(0);
      expect(fit.error.maxRelativeError).toBeLessThan(0.06);
    }
  });

  it('works on another GPU and model (H100, Qwen2.5-32B)', () => {
    const h100 = resolveHardware({ gpu: 'H100-SXM', model: 'Qwen2.5-32B' });
    const fit = fitRoofline(rowsFrom({ ...h100, mfu: 0.6, bandwidthEfficiency: 0.9, iterationOverhead: 0.002 }), h100);
    expect(fit.mfu).toBeCloseTo(0.6, 6);
    expect(fit.bandwidthEfficiency).toBeCloseTo(0.9, 6);
    expect(fit.iterationOverhead).toBeCloseTo(0.002, 8);
  });

  it('says when a coefficient is not determined: only compute-bound rows keep the preset bandwidth efficiency', () => {
    const rows = rowsFrom(truth).filter((row) => row.kind === 'prefill' && row.batchTokens >= 2048);
    const fit = fitRoofline(rows, base);
    expect(fit.identified.bandwidthEfficiency).toBe(false);
    expect(fit.bandwidthEfficiency).toBe(base.bandwidthEfficiency);
    expect(fit.mfu).toBeCloseTo(TRUTH.mfu, 6);
  });

  it('ships an example CSV that fits with a small error', async () => {
    const fit = fitRoofline(await readCalibrationCsv(EXAMPLE), base, EXAMPLE);
    expect(fit.identified).toEqual({ mfu: true, bandwidthEfficiency: true, iterationOverhead: true });
    expect(fit.error.meanRelativeError).toBeLessThan(0.05);
  });
});

describe('solveLeastSquares', () => {
  it('solves an overdetermined linear system and rejects dependent columns', () => {
    const rows = [[1, 0, 1], [0, 1, 1], [1, 1, 1], [2, 1, 1]];
    const x = solveLeastSquares(rows, rows.map(([a, b]) => 3 * a! - 2 * b! + 0.5))!;
    expect(x[0]).toBeCloseTo(3, 10);
    expect(x[1]).toBeCloseTo(-2, 10);
    expect(x[2]).toBeCloseTo(0.5, 10);
    expect(solveLeastSquares([[1, 2], [2, 4], [3, 6]], [1, 2, 3])).toBeUndefined();
  });
});

describe('calibration CSV', () => {
  it('reads columns in any order, case-insensitively, with comments, CRLF and extra columns', () => {
    const rows = parseCalibrationCsv(
      '# measured on a test box\r\nSeconds,note,Context_Tokens,batch_tokens,kind\r\n0.5,a,0,4096,prefill\r\n\r\n0.02,b,512,8,decode\r\n0.3,c,10,100,\r\n',
      'rows.csv',
    );
    expect(rows).toEqual([
      { line: 3, kind: 'prefill', batchTokens: 4096, contextTokens: 0, seconds: 0.5 },
      { line: 5, kind: 'decode', batchTokens: 8, contextTokens: 512, seconds: 0.02 },
      { line: 6, kind: 'prefill', batchTokens: 100, contextTokens: 10, seconds: 0.3 },
    ]);
  });

  it('reports a missing column at the header line', () => {
    expect(csvError('batch_tokens,context_tokens\n1,2\n3,4\n5,6\n')).toBe(
      'rows.csv:1: seconds: missing column (the header must name batch_tokens, context_tokens, seconds; kind is optional)',
    );
  });

  it('reports non-numeric and out-of-range values as file:line: column: problem', () => {
    const header = 'batch_tokens,context_tokens,seconds\n1,0,0.1\n';
    expect(csvError(`${header}2,0,fast\n`)).toBe('rows.csv:3: seconds: expected a number of seconds > 0, got "fast"');
    expect(csvError(`${header}1.5,0,0.1\n`)).toBe('rows.csv:3: batch_tokens: expected an integer >= 1, got "1.5"');
    expect(csvError(`${header}2,-1,0.1\n`)).toBe('rows.csv:3: context_tokens: expected an integer >= 0, got "-1"');
    expect(csvError(`${header}2,0,\n`)).toBe('rows.csv:3: seconds: expected a number of seconds > 0, got nothing');
    expect(csvError(`${header}2,0\n`)).toBe('rows.csv:3: row: expected 3 comma-separated fields as in the header, got 2');
    expect(csvError('kind,batch_tokens,context_tokens,seconds\nprefil,1,0,0.1\n')).toBe('rows.csv:2: kind: expected prefill or decode, got "prefil"');
  });

  it('needs at least three rows, and a header', () => {
    expect(csvError('batch_tokens,context_tokens,seconds\n1,0,0.1\n2,0,0.2\n')).toBe(
      'rows.csv:3: rows: 2 data rows; at least 3 are needed to fit mfu, bandwidthEfficiency and iterationOverhead',
    );
    expect(csvError('# nothing here\n\n')).toBe('rows.csv:1: header: no header; expected one naming batch_tokens, context_tokens, seconds');
  });
});

describe('kvflow calibrate --from', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kvflow-calibrate-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes a config that resolveHardware accepts with the fitted values', async () => {
    const { calibrateFromRows } = await import('../../src/cli/calibrate.js');
    const out = join(dir, 'fit.json');
    const result = await calibrateFromRows({ from: EXAMPLE, out });
    const config = JSON.parse(await readFile(out, 'utf8')) as unknown;
    const hardware = resolveHardware({ overrides: config, source: out });
    expect(hardware.mfu).toBeCloseTo(result.fit.mfu, 12);
    expect(hardware.bandwidthEfficiency).toBeCloseTo(result.fit.bandwidthEfficiency, 12);
    expect(hardware.iterationOverhead).toBeCloseTo(result.fit.iterationOverhead, 12);
    expect(hardware.gpu.name).toBe('A10G');
  });

  it('rejects a bad CSV with the line and column', async () => {
    const { calibrateFromRows } = await import('../../src/cli/calibrate.js');
    const bad = join(dir, 'bad.csv');
    await writeFile(bad, 'batch_tokens,context_tokens,seconds\n1,0,0.1\n2,0,x\n3,0,0.3\n');
    await expect(calibrateFromRows({ from: bad })).rejects.toThrow(`${bad}:3: seconds: expected a number of seconds > 0, got "x"`);
  });
});

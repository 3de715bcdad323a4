import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { fitLoadPath, parseLoadRows, readLoadRows } from '../../src/sim/load-calibration.js';
import { layerwiseTiming } from '../../src/sim/load-path.js';

/** Rows from known terms: gather 10 GB/s, copy 2 GB/s, 12 us per layer, 32 layers. */
function rows(stages: string[], noise = (_: number) => 1): string {
  const lines = ['bytes,layers,seconds,stage'];
  let i = 0;
  for (const bytes of [2 ** 20, 2 ** 24, 2 ** 28, 2 ** 30]) {
    for (const stage of stages) {
      const seconds = { gather: bytes / 10e9, copy: bytes / 2e9 + 32 * 12e-6, load: bytes / 10e9 + bytes / 2e9 + 32 * 12e-6 }[stage]!;
      lines.push(`${bytes},32,${seconds * noise(i++)},${stage}`);
    }
  }
  return lines.join('\n');
}

describe('calibrate --load-from: fitting the layer-wise load path', () => {
  it('recovers gather, copy and per-layer sync from staged rows', () => {
    const fit = fitLoadPath(parseLoadRows(rows(['gather', 'copy', 'load']), 'rows.csv'));
    expect(fit.hostCopyBandwidth! / 10e9).toBeCloseTo(1, 6);
    expect(fit.copyBandwidth! / 2e9).toBeCloseTo(1, 6);
    expect(fit.syncLatency / 12e-6).toBeCloseTo(1, 4);
    expect(fit.error.maxRelativeError).toBeLessThan(1e-9);
  });

  it('stays within a few percent under 3% noise', () => {
    const noise = (i: number) => 1 + 0.03 * Math.sin(7 * i + 1);
    const fit = fitLoadPath(parseLoadRows(rows(['gather', 'copy', 'load'], noise), 'rows.csv'));
    expect(Math.abs(fit.hostCopyBandwidth! / 10e9 - 1)).toBeLessThan(0.05);
    expect(Math.abs(fit.copyBandwidth! / 2e9 - 1)).toBeLessThan(0.05);
  });

  it('fits only the combined per-byte cost from whole-load rows', () => {
    const fit = fitLoadPath(parseLoadRows(rows(['load']), 'rows.csv'));
    expect(fit.hostCopyBandwidth).toBeUndefined();
    expect(1 / fit.combinedBandwidth).toBeCloseTo(1 / 10e9 + 1 / 2e9, 18);
  });

  it('fits the rows of the shipped example within 2%', async () => {
    const fit = fitLoadPath(await readLoadRows('bench/gpu/example-load-rows.csv'));
    expect(fit.error.maxRelativeError).toBeLessThan(0.02);
    expect(Math.abs(fit.hostCopyBandwidth! / 10e9 - 1)).toBeLessThan(0.05);
  });

  it('round-trips: the fitted terms give the measured load time back through the model', () => {
    const fit = fitLoadPath(parseLoadRows(rows(['gather', 'copy', 'load']), 'rows.csv'));
    const timing = layerwiseTiming(
      { mode: 'direct', hostCopyBandwidth: fit.hostCopyBandwidth!, pageableBandwidth: fit.copyBandwidth!, syncLatency: fit.syncLatency },
      64e9,
      32,
    );
    expect(timing.loadSeconds(2 ** 30) / (2 ** 30 / 10e9 + 2 ** 30 / 2e9 + 32 * 12e-6)).toBeCloseTo(1, 6);
  });

  it.each([
    ['a missing column', 'bytes,seconds\n1,1\n2,2', 'rows.csv:1: layers: missing column'],
    ['a bad stage', 'bytes,layers,seconds,stage\n1,1,1,load\n2,2,2,fly', 'rows.csv:3: stage: expected load, gather, copy, got "fly"'],
    ['a negative time', 'bytes,layers,seconds\n1,1,1\n2,2,-2', 'rows.csv:3: seconds: expected a number of seconds > 0, got "-2"'],
    ['too few rows', 'bytes,layers,seconds\n1,1,1', 'rows.csv:2: rows: 1 data rows; at least 2'],
  ])('reports %s as file:line: column: problem', (_, text, message) => {
    expect(() => parseLoadRows(text, 'rows.csv')).toThrow(InputError);
    expect(() => parseLoadRows(text, 'rows.csv')).toThrow(message);
  });
});

import { describe, expect, it } from 'vitest';
import { expectJsonDocument, expectUsageError, kvflow } from '../helpers/cli.js';

interface Doc {
  config: { hardware: { h2d: { bandwidth: number; latency: number; concurrency: number }; d2h: { latency: number }; gpuCount: number; activationReserveBytes: number; mfu: number } };
}

describe('simulate coefficient flags', () => {
  it('lay every coefficient over the presets and show it in the config', async () => {
    const doc = expectJsonDocument(
      await kvflow([
        'simulate', '--workload', 'workloads/paper/sequential-1024.json', '--setups', 'sglang', '--json',
        '--h2d-bandwidth', '4e9', '--link-latency', '0.001', '--link-concurrency', '2',
        '--gpu-count', '2', '--activation-reserve-bytes', '5e8', '--mfu', '0.6',
      ]),
    ) as Doc;
    const hw = doc.config.hardware;
    expect(hw.h2d).toEqual({ bandwidth: 4e9, latency: 0.001, concurrency: 2 });
    expect(hw.d2h.latency).toBe(0.001);
    expect(hw.gpuCount).toBe(2);
    expect(hw.activationReserveBytes).toBe(5e8);
    expect(hw.mfu).toBe(0.6);
  });

  it('rejects a fraction out of range at the flag', async () => {
    expectUsageError(await kvflow(['simulate', '--workload', 'workloads/paper/sequential-1024.json', '--mfu', '2']), '--mfu', '(0, 1]');
  });
});

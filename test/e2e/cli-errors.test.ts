/**
 * The built `kvflow` as a user runs it: one error style (`kvflow: ...`, never commander's `error: ...`)
 * with "did you mean" for unknown flags and values, and preset names in any case, with aliases and
 * Hugging Face ids.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { expectJsonDocument, expectUsageError, kvflow } from '../helpers/cli.js';

const SPEC = 'workloads/sequential-10.json';
const TRACE = 'workloads/traces/mooncake_conversation.excerpt.jsonl';
const scratch = mkdtempSync(join(tmpdir(), 'kvflow-cli-errors-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('kvflow usage errors', () => {
  it('answers an unknown flag in kvflow style, on one line, with the nearest flag', async () => {
    const line = expectUsageError(await kvflow(['simulate', '--stups', 'sglang']));
    expect(line).toBe("kvflow: unknown option '--stups' (did you mean --setups?)");
  });

  it('names an unknown flag before a missing required one (--trac is not "required option --trace")', async () => {
    const line = expectUsageError(await kvflow(['replay', '--trac', TRACE]));
    expect(line).toBe("kvflow: unknown option '--trac' (did you mean --trace?)");
    const nested = expectUsageError(await kvflow(['trace', 'stats', '--fromat', 'auto', TRACE]));
    expect(nested).toBe("kvflow: unknown option '--fromat' (did you mean --format?)");
  });

  it('names unknown short flags and sub-commands before anything else', async () => {
    expect(expectUsageError(await kvflow(['replay', '-x']))).toBe("kvflow: unknown option '-x'");
    expect(expectUsageError(await kvflow(['trace', 'stast', TRACE]))).toBe("kvflow: unknown command 'stast' for 'kvflow trace' (did you mean stats?)");
    expect(expectUsageError(await kvflow(['simulat']))).toBe("kvflow: unknown command 'simulat' (did you mean simulate?)");
  });

  it('still says which required option is missing when every flag is known', async () => {
    expectUsageError(await kvflow(['replay', '--policy', 'lru']), /^kvflow: required option '--trace <file>' not specified$/);
  });

  it('answers unknown values with the nearest accepted one: policies, setups, formats, presets', async () => {
    const cases: [string[], RegExp][] = [
      [['replay', '--trace', TRACE, '--policy', 'lru,lfx'], /^kvflow: --policy: unknown policy "lfx" \(did you mean lfu\? accepted: lru, lfu, belady, ste, /],
      [['simulate', '--workload', SPEC, '--setups', 'sglang,hicahce'], /unknown "hicahce" \(did you mean hicache\? accepted: /],
      [['replay', '--trace', TRACE, '--format', 'mooncak'], /unknown "mooncak" \(did you mean mooncake\? accepted: /],
      [['simulate', '--workload', SPEC, '--gpu', 'H101'], /^kvflow: --gpu: unknown "H101" \(did you mean h100\? accepted: A10G, L4, A100-80G, H100-SXM, H200\)$/],
      [['simulate', '--workload', SPEC, '--model', 'Qwen2.5-23B'], /^kvflow: --model: unknown "Qwen2.5-23B" \(did you mean Qwen2.5-32B\? /],
    ];
    for (const [args, message] of cases) {
      const run = await kvflow(args);
      expect(run.stderr).not.toMatch(/^error:/m);
      expectUsageError(run, message);
    }
  });

  it('suggests the field a config or grid file meant', async () => {
    const config = join(scratch, 'hw.json');
    writeFileSync(config, JSON.stringify({ mfuu: 0.4 }));
    expectUsageError(await kvflow(['simulate', '--workload', SPEC, '--config', config]), /hw\.json: mfuu: unknown field \(did you mean mfu\? accepted: /);
    const grid = join(scratch, 'grid.json');
    writeFileSync(grid, JSON.stringify({ name: 'g', kind: 'simulate', base: { workload: `${process.cwd()}/${SPEC}`, setups: ['sglang'] }, axes: { gpu: ['a10g', 'H100-SXN'] } }));
    expectUsageError(await kvflow(['sweep', grid]), /grid\.json: axes\.gpu\.1: unknown "H100-SXN" \(did you mean H100-SXM\? accepted: /);
  });
});

describe('preset names', () => {
  const hardwareOf = async (...flags: string[]) => {
    const report = expectJsonDocument(await kvflow(['simulate', '--workload', SPEC, '--setups', 'sglang', '--json', ...flags])) as {
      config: { hardware: { gpu: string; model: string; h2d: { bandwidth: number }; cpuPoolBytes: number } };
    };
    return report.config.hardware;
  };

  it('takes GPU names in any case and by alias, model presets by Hugging Face id', async () => {
    expect(await hardwareOf('--gpu', 'a10g', '--model', 'meta-llama/Llama-3.1-8B-Instruct')).toMatchObject({ gpu: 'A10G', model: 'Llama-3.1-8B' });
    expect(await hardwareOf('--gpu', 'h100', '--model', 'Qwen/Qwen2.5-32B-Instruct')).toMatchObject({ gpu: 'H100-SXM', model: 'Qwen2.5-32B' });
  });

  it('lists presets, aliases and the Hugging Face form in --help', async () => {
    const help = (await kvflow(['simulate', '--help'])).stdout.replace(/\s+/g, ' ');
    expect(help).toContain('GPU preset, any case: A10G (a10), L4, A100-80G (a100,');
    expect(help).toContain('H100-SXM (h100,');
    expect(help).toContain('or its Hugging Face id (meta-llama/Llama-3.1-8B-Instruct, Qwen/Qwen2.5-32B-Instruct)');
  });

  it('accepts byte sizes and rates with suffixes and exponents', async () => {
    const suffixed = await hardwareOf('--cpu-pool-bytes', '64G', '--h2d-bandwidth', '25GB/s');
    expect(suffixed.cpuPoolBytes).toBe(64 * 2 ** 30);
    expect(suffixed.h2d.bandwidth).toBe(25 * 2 ** 30);
    expect((await hardwareOf('--cpu-pool-bytes', '64GiB')).cpuPoolBytes).toBe(64 * 2 ** 30);
    const decimal = await hardwareOf('--cpu-pool-bytes', '64e9', '--h2d-bandwidth', '25e9');
    expect(decimal.cpuPoolBytes).toBe(64e9);
    expect(decimal.h2d.bandwidth).toBe(25e9);
    expectUsageError(await kvflow(['simulate', '--workload', SPEC, '--h2d-bandwidth', '25Q']), /--h2d-bandwidth <bytes\/s>' argument '25Q' is invalid/);
  });
});

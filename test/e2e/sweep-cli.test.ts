/**
 * `kvflow sweep` end to end: grid points checked before the first run starts, results streamed to --out
 * so a late failure keeps the finished runs, and `--report` for replay grids.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateRequests } from '../../src/workload/generate.js';
import { loadWorkflowSpec } from '../../src/workload/spec.js';
import { writeTrace } from '../../src/workload/trace.js';
import { expectUsageError, kvflow } from '../helpers/cli.js';
import { REPO } from '../helpers/sim.js';

describe('kvflow sweep (CLI)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kvflow-sweep-cli-'));
    const spec = await loadWorkflowSpec(join(REPO, 'workloads/sequential-10.json'));
    await writeTrace(join(dir, 'good.jsonl'), generateRequests({ ...spec, rounds: 2 }, { seed: 1 }));
    // A trace whose problem only shows when it is read: the second run fails after the first finished.
    const good = await readFile(join(dir, 'good.jsonl'), 'utf8');
    await writeFile(join(dir, 'late-bad.jsonl'), `${good}{"id": "broken", "blocks": "nope"}\n`);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const grid = async (name: string, traces: string[]) => {
    const file = join(dir, `${name}.json`);
    await writeFile(file, JSON.stringify({ name, kind: 'replay', base: { policy: ['lru', 'belady'], capacity: ['8k', '64k'] }, axes: { trace: traces } }));
    return file;
  };

  it('checks every grid point before running any', async () => {
    const file = await grid('missing', ['good.jsonl', 'missing.jsonl']);
    const out = join(dir, 'missing-out.json');
    const run = await kvflow(['sweep', file, '--out', out, '--workers', '0']);
    expectUsageError(run, /runs\.1 .*trace: cannot read .*missing\.jsonl/);
    await expect(readFile(out, 'utf8')).rejects.toThrow();
  });

  it('keeps the runs that finished in --out when a later run fails', async () => {
    const file = await grid('late', ['good.jsonl', 'late-bad.jsonl']);
    const out = join(dir, 'late-out.json');
    const run = await kvflow(['sweep', file, '--out', out, '--workers', '0']);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/^kvflow: .*late-bad\.jsonl.*finished runs are in .*late-out\.json/);
    expect(run.stderr).not.toMatch(/\n\s+at /);
    const saved = JSON.parse(await readFile(out, 'utf8'));
    expect(saved.runs.map((r: { index: number }) => r.index)).toEqual([0]);
    expect(saved.runs[0].report.results).toHaveLength(4);
    expect(saved.incomplete).toMatchObject({ done: 1, total: 2 });
  });

  it('writes the same document to --out as to stdout, and a report for a replay grid', async () => {
    const file = await grid('ok', ['good.jsonl']);
    const out = join(dir, 'ok-out.json');
    const report = join(dir, 'ok.html');
    const [toFile, toStdout] = await Promise.all([
      kvflow(['sweep', file, '--out', out, '--report', report, '--workers', '0']),
      kvflow(['sweep', file, '--workers', '0']),
    ]);
    expect(toFile.status, toFile.stderr).toBe(0);
    expect(toFile.stdout).toMatch(/^sweep ok \(.*ok\.json\): 1 replay runs/);
    expect(await readFile(out, 'utf8')).toBe(toStdout.stdout);
    const html = await readFile(report, 'utf8');
    expect(html).toContain('Hit rate against cache capacity');
    expect(html).toContain('Evictions against cache capacity');
  });
});

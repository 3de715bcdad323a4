/**
 * Operational failures from the command line: one line on stderr, the right exit code, no stack trace
 * (a stack only with --debug), and no work done before a bad output path is noticed.
 */
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { kvflow, USAGE_HINT } from '../helpers/cli.js';

function oneLine(stderr: string): string {
  const lines = stderr.split('\n').filter((line) => line.trim() !== '' && line.trim() !== USAGE_HINT);
  expect(lines, stderr).toHaveLength(1);
  expect(stderr).not.toMatch(/\n\s+at |internal error/);
  return lines[0]!;
}

describe('operational failures', () => {
  it('a port already in use: exit 1, one line naming the address', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const run = await kvflow(['engine', '--port', String(port)]);
      expect(run.status).toBe(1);
      expect(oneLine(run.stderr)).toContain(`127.0.0.1:${port} is already in use`);
    } finally {
      blocker.close();
    }
  });

  it('a port out of range and a host that is not an address: exit 2', async () => {
    const port = await kvflow(['gateway', '--upstream', 'http://127.0.0.1:1', '--port', '99999']);
    expect(port.status).toBe(2);
    expect(oneLine(port.stderr)).toMatch(/--port|0 to 65535/);
    const host = await kvflow(['engine', '--port', '0', '--host', '999.1.1.1']);
    expect(host.status).toBe(2);
    expect(oneLine(host.stderr)).toContain('999.1.1.1');
  });

  it('an unreachable server: exit 1, one line', async () => {
    const run = await kvflow(['emulate', '--url', 'http://127.0.0.1:1', '--workload', 'workloads/sequential-10.json']);
    expect(run.status).toBe(1);
    expect(oneLine(run.stderr)).toMatch(/nothing answers at 127\.0\.0\.1:1/);
  });

  it('an unwritable output is refused before the run, with the flag named', async () => {
    const started = performance.now();
    const run = await kvflow(['simulate', '--workload', 'workloads/paper/sequential-8192.json', '--report', '/nonexistent-dir/report.html']);
    expect(run.status).toBe(2);
    expect(oneLine(run.stderr)).toMatch(/^kvflow: --report: .*does not exist/);
    expect(performance.now() - started).toBeLessThan(20_000);
    const sweep = await kvflow(['sweep', 'workloads/sweeps/example.json', '--out', '/proc/version/x.json']);
    expect(sweep.status).toBe(2);
    expect(oneLine(sweep.stderr)).toMatch(/--out/);
  });

  it('a bare kvflow or kvflow trace prints short usage, exit 2', async () => {
    const bare = await kvflow([]);
    expect(bare.status).toBe(2);
    expect(bare.stderr).toMatch(/^usage: kvflow <command>/);
    expect(bare.stderr.split('\n').length).toBeLessThan(16);
    const trace = await kvflow(['trace']);
    expect(trace.status).toBe(2);
    expect(trace.stderr).toMatch(/^usage: kvflow trace <subcommand>/);
  });
});

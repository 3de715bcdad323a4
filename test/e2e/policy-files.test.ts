/**
 * The two example policy files in examples/policies/ through every command that takes `--policy`: replay,
 * simulate, sweep (on piscina workers), engine, gateway and emulate, mixed with built-in names; and the
 * one-line exit-2 errors for bad policy modules.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectJsonDocument, expectUsageError, kvflow, startCliServer, type CliServer } from '../helpers/cli.js';
import { REPO, writeSpecTrace } from '../helpers/sim.js';

const LONG = './examples/policies/long-prompts.js';
const HOT = './examples/policies/hot-agents.js';
const SPEC = 'workloads/sequential-10.json';
let dir: string;
let trace: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kvflow-policy-files-'));
  trace = join(dir, 'sequential-10.jsonl');
  await writeSpecTrace(SPEC, trace);
});

interface Named {
  results: { policy?: string; setup?: string; hitRate?: number; gpuHitRate?: number }[];
}

describe('policy files', () => {
  it('replay: mixed with built-in names, results name them by their name', async () => {
    const run = await kvflow(['replay', '--trace', trace, '--workflow', SPEC, '--capacity', '16k', '--policy', `lru,${LONG},ste,${HOT}`, '--json']);
    const document = expectJsonDocument(run) as Named;
    expect(document.results.map((r) => r.policy)).toEqual(['lru', 'long-prompts', 'ste', 'hot-agents']);
  });

  it('replay: a hot-agents policy protects the agents it is told about', async () => {
    const run = await kvflow(['replay', '--trace', trace, '--capacity', '16k', '--policy', `lru,${HOT}`, '--json']);
    const plain = expectJsonDocument(run) as Named;
    const hotRun = await kvflowWithEnv(['replay', '--trace', trace, '--capacity', '16k', '--policy', `lru,${HOT}`, '--json'], { KVFLOW_HOT_AGENTS: 'a0,a1,a2,a3' });
    const hot = JSON.parse(hotRun) as Named;
    expect(plain.results[1]!.hitRate).toBe(plain.results[0]!.hitRate); // no hot agent: exactly LRU
    expect(hot.results[1]!.hitRate).toBeGreaterThan(hot.results[0]!.hitRate!);
  });

  it('simulate: --policy adds a setup named after the policy, --setup builds one from parts', async () => {
    const run = await kvflow([
      'simulate', '--workload', SPEC, '--setups', 'sglang,kvflow', '--policy', LONG,
      '--setup', `name=hot-cpu,policy=${HOT},cpu=on,prefetch=ste`, '--json',
    ]);
    const document = expectJsonDocument(run) as Named & { config: { setups: string[] } };
    expect(document.results.map((r) => r.setup)).toEqual(['sglang', 'kvflow', 'hot-cpu', 'long-prompts']);
    expect(document.config.setups).toEqual(['sglang', 'kvflow', 'hot-cpu', 'long-prompts']);
    const speedup = (document.results[0] as unknown as { speedup: Record<string, number> }).speedup;
    expect(Object.keys(speedup)).toEqual(['sglang', 'kvflow', 'hot-cpu', 'long-prompts']);
  });

  it('sweep: policy files relative to the grid, imported on piscina workers', async () => {
    const grid = join(dir, 'grid.json');
    writeFileSync(
      grid,
      JSON.stringify({
        name: 'policies',
        kind: 'replay',
        base: { trace, policy: ['lru', join(REPO, LONG)] },
        axes: { capacity: [['8k'], ['16k']] },
      }),
    );
    const simGrid = join(dir, 'sim-grid.json');
    writeFileSync(
      simGrid,
      JSON.stringify({
        name: 'setups',
        kind: 'simulate',
        base: { workload: join(REPO, SPEC), setups: ['sglang', { name: 'mine', policy: join(REPO, HOT), cpu: true }] },
        axes: { policy: [[join(REPO, LONG)], ['lfu']] },
      }),
    );
    const replay = expectJsonDocument(await kvflow(['sweep', grid, '--workers', '2'])) as { runs: { report: Named }[] };
    for (const run of replay.runs) expect(run.report.results.map((r) => r.policy)).toEqual(['lru', 'long-prompts']);
    const simulate = expectJsonDocument(await kvflow(['sweep', simGrid, '--workers', '2'])) as { runs: { report: Named }[] };
    expect(simulate.runs.map((run) => run.report.results.map((r) => r.setup))).toEqual([
      ['sglang', 'mine', 'long-prompts'],
      ['sglang', 'mine', 'lfu'],
    ]);
  });

  describe('servers', () => {
    let engine: CliServer | undefined;
    let gateway: CliServer | undefined;
    afterAll(async () => {
      await gateway?.stop();
      await engine?.stop();
    });

    it('engine: --policy replaces the setup policy; gateway: --policy orders the shadow trees', async () => {
      engine = await startCliServer(['engine', '--speed', '200', '--policy', LONG]);
      const state = (await (await fetch(`${engine.url}/v1/engine/state`)).json()) as { setup: string; policy: string };
      expect(state).toMatchObject({ setup: 'kvflow', policy: 'long-prompts' });
      gateway = await startCliServer(['gateway', '--upstream', engine.url, '--upstream-kind', 'kvflow', '--policy', HOT]);
      const gatewayState = (await (await fetch(`${gateway.url}/v1/gateway/state`)).json()) as { mode: string; shadowPolicy: string };
      expect(gatewayState).toMatchObject({ mode: 'kvflow', shadowPolicy: 'hot-agents' });
      const answer = await fetch(`${gateway.url}/v1/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'Llama-3.1-8B', prompt: 'hello there, a prompt long enough for a page or two of tokens', max_tokens: 4 }),
      });
      expect(answer.status).toBe(200);
      const after = (await (await fetch(`${engine.url}/v1/engine/state`)).json()) as { completed: number };
      expect(after.completed).toBe(1);
    });
  });

  it('emulate --compare: the engines run the policy file', async () => {
    const run = await kvflow(
      ['emulate', '--compare', '--workload', SPEC, '--workflows', '2', '--speed', '400', '--workers', '0', '--policy', LONG, '--setup', 'name=mine,base=kvflow', '--json'],
      { timeoutMs: 120_000 },
    );
    const document = expectJsonDocument(run) as { config: { setup: string }; results: { mode: string; errors: number; requests: number }[] };
    expect(document.config.setup).toBe('mine');
    expect(document.results.map((r) => r.mode)).toEqual(['lru', 'kvflow']);
    for (const result of document.results) expect(result.errors).toBe(0);
  });

  describe.concurrent('bad policy modules: one line, exit 2', () => {
    const write = (name: string, text: string) => {
      const file = join(dir, name);
      writeFileSync(file, text);
      return file;
    };
    it.each([
      ['missing', () => join(dir, 'nope.js'), /no such file/],
      ['throws on import', () => write('throws.js', "throw new Error('boom at import');\n"), /cannot load the module: boom at import/],
      ['default export not a function', () => write('number.js', 'export default 42;\n'), /default export must be a policy class or a function/],
      ['no default export', () => write('none.js', 'export const x = 1;\n'), /got no default export/],
      ['no priority', () => write('shape.js', "export default class { name = 'x'; }\n"), /has no priority/],
      ['no name', () => write('noname.js', 'export default () => ({ priority: () => 0 });\n'), /has no name/],
      ['constructor throws', () => write('ctor.js', "export default class { constructor() { throw new Error('no'); } }\n"), /making a policy threw: no/],
      ['name of a built-in', () => write('taken.js', "export default () => ({ name: 'lru', priority: () => 0 });\n"), /already taken by a built-in/],
    ])('%s', async (_label, file, message) => {
      expectUsageError(await kvflow(['replay', '--trace', trace, '--policy', `lru,${file()}`]), '--policy', message);
    });
    it('the same errors from simulate, engine and sweep', async () => {
      const path = write('shape2.js', "export default class { name = 'y'; }\n");
      expectUsageError(await kvflow(['simulate', '--workload', SPEC, '--policy', path]), '--policy', /has no priority/);
      expectUsageError(await kvflow(['engine', '--port', '0', '--policy', path]), '--policy', /has no priority/);
      const grid = write('bad-grid.json', JSON.stringify({ name: 'bad', kind: 'replay', base: { trace, policy: [path] } }));
      const run = await kvflow(['sweep', grid, '--workers', '1']);
      expect(run.status).toBe(2);
      expect(run.stderr).toMatch(/policy: .*has no priority/);
    });
  });
});

async function kvflowWithEnv(args: string[], env: Record<string, string>): Promise<string> {
  const { execFileSync } = await import('node:child_process');
  const { CLI } = await import('../helpers/cli.js');
  return execFileSync(process.execPath, [CLI, ...args], { cwd: REPO, env: { ...process.env, ...env }, encoding: 'utf8' });
}

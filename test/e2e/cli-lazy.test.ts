/**
 * Lazy loading (issue 14): a command loads only its own module and the libraries it uses. A module
 * resolution hook reports every module resolved while `kvflow` runs; the heavy ones must be absent.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CLI } from '../helpers/cli.js';
import { REPO } from '../helpers/sim.js';

const MARK = 'kvflow-test-module:';
const HEAVY = ['zod', 'vega', 'vega-lite', 'fastify', 'undici', 'prom-client', 'piscina', '@tensorflow/tfjs'];

/** The npm packages `kvflow ...args` resolves, by name. */
function packagesLoaded(args: string[]): Set<string> {
  return packagesLoadedBy([CLI, ...args]);
}

/** The npm packages `node ...argv` resolves, by name. */
function packagesLoadedBy(argv: string[]): Set<string> {
  const packages = modulesLoadedBy(argv).map((url) => /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1]);
  return new Set(packages.filter((name) => name !== undefined));
}

/** The URL of every file module `node ...argv` resolves, kvflow's own included, in order. */
function modulesLoadedBy(argv: string[]): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'kvflow-lazy-'));
  writeFileSync(
    join(dir, 'hooks.mjs'),
    `export async function resolve(specifier, context, next) {
      const result = await next(specifier, context);
      if (result.url.startsWith('file:')) process.stderr.write('${MARK}' + result.url + '\\n');
      return result;
    }`,
  );
  writeFileSync(join(dir, 'register.mjs'), `import { register } from 'node:module'; register(${JSON.stringify(pathToFileURL(join(dir, 'hooks.mjs')).href)});`);
  const run = spawnSync(process.execPath, ['--import', pathToFileURL(join(dir, 'register.mjs')).href, ...argv], {
    cwd: REPO,
    encoding: 'utf8',
    timeout: 60_000,
  });
  expect(run.status, run.stderr).toBe(0);
  return run.stderr.split('\n').filter((line) => line.startsWith(MARK)).map((line) => line.slice(MARK.length));
}

describe('lazy commands', () => {
  it('kvflow --help loads no library but commander', () => {
    expect([...packagesLoaded(['--help'])]).toEqual(['commander']);
  });

  it('replay of a valid trace loads no schema, plotting, HTTP or worker library', () => {
    const loaded = packagesLoaded(['replay', '--trace', 'test/fixtures/trace/mooncake-crlf.jsonl', '--capacity', '1M', '--policy', 'lru']);
    expect(HEAVY.filter((name) => loaded.has(name))).toEqual([]);
  });

  it('replay with the usual flags runs without commander (src/cli/plain-command.ts); help still uses it', () => {
    const loaded = packagesLoaded(['replay', '--trace', 'test/fixtures/trace/mooncake-crlf.jsonl', '--capacity', '1M', '--policy', 'lru', '--json']);
    expect(loaded.has('commander')).toBe(false);
    expect(packagesLoaded(['replay', '--help']).has('commander')).toBe(true);
  });

  it('replay with a policy that learns nothing loads none of the learned policies\' modules', () => {
    const modules = modulesLoadedBy([CLI, 'replay', '--trace', 'test/fixtures/trace/mooncake-crlf.jsonl', '--capacity', '1M', '--policy', 'lru,lfu,ste']);
    expect(modules.some((url) => url.endsWith('/cache/policy.js'))).toBe(true); // the hook sees kvflow's own modules
    expect(modules.filter((url) => /\/cache\/(reuse|learned-ste)\/|policy-duel|\/tensor\//.test(url))).toEqual([]);
  });

  it('simulate of a valid trace or spec with preset setups loads no schema, plotting, HTTP or worker library', () => {
    const trace = packagesLoaded(['simulate', '--trace', 'test/fixtures/trace/mooncake-crlf.jsonl', '--gpu', 'H100-SXM', '--json']);
    expect(HEAVY.filter((name) => trace.has(name))).toEqual([]);
    const spec = packagesLoaded(['simulate', '--workload', 'workloads/sequential-10.json', '--setups', 'sglang,kvflow', '--json']);
    expect(HEAVY.filter((name) => spec.has(name))).toEqual([]);
  });

  it('hardware from presets and flags loads no zod (only a --config document needs it)', () => {
    const hardware = pathToFileURL(join(dirname(CLI), '../sim/hardware.js')).href;
    const script = `const { resolveHardware } = await import(${JSON.stringify(hardware)}); resolveHardware({ gpu: 'H100-SXM', model: 'Llama-3.1-8B', engine: 'ideal' });`;
    expect(packagesLoadedBy(['--input-type=module', '-e', script]).has('zod')).toBe(false);
  });
});

/**
 * The package as a consumer sees it: every subpath export resolves by package name, the cache and graph
 * entry points load no HTTP server, plotting or tensor library, and the published `.d.ts` files (with the
 * custom-policy example of docs/policies.md) type-check in a strict project with `skipLibCheck: false`.
 * Runs against `dist/` (npm test builds it before vitest).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const manifest = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { exports: Record<string, unknown> };
const subpaths = Object.keys(manifest.exports)
  .filter((key) => key !== './package.json')
  .map((key) => (key === '.' ? 'kvflow' : `kvflow/${key.slice(2)}`));

/** Packages an embedder of the cache or the step graph must not pay for. */
const HEAVY = ['fastify', 'undici', 'prom-client', 'vega', 'vega-lite', '@tensorflow/tfjs', 'piscina', 'bullmq', 'ioredis', 'zod', 'cli-table3'];

/** Every package a fresh process loads when it imports `specifier` (resolved from the repository). */
function packagesLoadedBy(specifier: string): string[] {
  const hook = `data:text/javascript,${encodeURIComponent(
    'export async function resolve(s, c, next) { const r = await next(s, c); ' +
      "const i = r.url.lastIndexOf('/node_modules/'); " +
      "if (i >= 0) { const p = r.url.slice(i + 14).split('/'); process.stderr.write('PKG ' + (p[0].startsWith('@') ? p[0] + '/' + p[1] : p[0]) + '\\n'); } " +
      'return r; }',
  )}`;
  const register = `data:text/javascript,${encodeURIComponent(`import { register } from 'node:module'; register(${JSON.stringify(hook)});`)}`;
  const run = spawnSync(process.execPath, ['--import', register, '--input-type=module', '-e', `await import(${JSON.stringify(specifier)})`], {
    cwd: repo,
    encoding: 'utf8',
  });
  expect(run.status, run.stderr).toBe(0);
  return [...new Set(run.stderr.split('\n').filter((line) => line.startsWith('PKG ')).map((line) => line.slice(4)))].sort();
}

describe('subpath exports', () => {
  it('lists an entry per area, each resolving by package name in a fresh process', () => {
    expect(subpaths).toEqual(expect.arrayContaining(['kvflow', 'kvflow/cache', 'kvflow/graph', 'kvflow/sim', 'kvflow/serve', 'kvflow/workload', 'kvflow/replay']));
    const script = `for (const s of ${JSON.stringify(subpaths)}) { const m = await import(s); if (Object.keys(m).length === 0) throw new Error(s + ' exports nothing'); }`;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: repo, encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
  });

  it.each(['kvflow/cache', 'kvflow/graph'])('%s loads no HTTP server, plotting, tensor or validation library', (specifier) => {
    const loaded = packagesLoadedBy(specifier);
    expect(loaded.filter((name) => HEAVY.some((heavy) => name === heavy || name.startsWith(`${heavy}-`)))).toEqual([]);
  });

  it('the root entry still loads the HTTP side (the check above can see packages)', () => {
    expect(packagesLoadedBy('kvflow')).toEqual(expect.arrayContaining(['fastify', 'zod']));
  });
});

describe('published types in a consumer', () => {
  const consumer = mkdtempSync(join(tmpdir(), 'kvflow-consumer-'));
  mkdirSync(join(consumer, 'node_modules', '@types'), { recursive: true });
  symlinkSync(repo, join(consumer, 'node_modules', 'kvflow'), 'dir');
  // A Node consumer has Node's types: kvflow's declarations name node:stream and friends.
  symlinkSync(join(repo, 'node_modules', '@types', 'node'), join(consumer, 'node_modules', '@types', 'node'), 'dir');
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  afterAll(() => rmSync(consumer, { recursive: true, force: true }));

  /** tsc's errors for `files` (name -> source) in a strict nodenext project with `skipLibCheck: false`. */
  function typeErrors(files: Record<string, string>): string[] {
    for (const [name, code] of Object.entries(files)) writeFileSync(join(consumer, name), code);
    writeFileSync(
      join(consumer, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { strict: true, skipLibCheck: false, noEmit: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', types: ['node'] },
        files: Object.keys(files),
      }),
    );
    const run = spawnSync(process.execPath, [join(repo, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', consumer], { cwd: consumer, encoding: 'utf8' });
    return run.stdout.split('\n').filter((line) => line.includes('error TS'));
  }

  it('the examples of docs/policies.md and docs/library.md compile against the subpath declarations', () => {
    const examples = ['policies.md', 'library.md'].flatMap((page) => {
      const docs = readFileSync(join(repo, 'docs', page), 'utf8');
      return [...docs.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1]!);
    });
    expect(examples.length).toBeGreaterThanOrEqual(3);
    expect(typeErrors(Object.fromEntries(examples.map((code, index) => [`docs-example-${index}.ts`, code])))).toEqual([]);
  }, 120_000);

  it('every subpath without TensorFlow.js in its types has no error at all', () => {
    const code = [
      "import { RadixCache, LruPolicy, policyRegistry, type EvictionPolicy } from 'kvflow/cache';",
      "import { AgentStepGraph } from 'kvflow/graph';",
      "import { simulate, setupByName } from 'kvflow/sim';",
      "import { readTrace } from 'kvflow/workload';",
      "import { replayTrace } from 'kvflow/replay';",
      "import { resolvePolicy } from 'kvflow/config';",
      "import { renderHtmlReport } from 'kvflow/report';",
      'const policy: EvictionPolicy = new LruPolicy();',
      'export const cache = new RadixCache({ gpuSlots: 8, policy });',
      'export const names: string[] = policyRegistry.names();',
      'export const used = [AgentStepGraph, simulate, setupByName, readTrace, replayTrace, resolvePolicy, renderHtmlReport];',
    ].join('\n');
    expect(typeErrors({ 'subpaths.ts': code })).toEqual([]);
  }, 120_000);

  it('the whole API type-checks; the only errors are inside @tensorflow/tfjs\'s own declarations', () => {
    // tfjs 4.22's .d.ts files fail skipLibCheck: false by themselves (tfjs-layers' Keras config types,
    // tfjs-core's `Long`); kvflow/serve, kvflow/tensor and the root entry name tfjs types.
    const errors = typeErrors({ 'everything.ts': "import * as kvflow from 'kvflow';\nimport * as serve from 'kvflow/serve';\nimport * as tensor from 'kvflow/tensor';\nexport const all = [kvflow, serve, tensor];" });
    expect(errors.filter((line) => !line.includes('node_modules/@tensorflow/'))).toEqual([]);
  }, 120_000);
});

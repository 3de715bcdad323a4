/**
 * Generated bad input against every entry point, checking the contract rather than particular answers:
 * - HTTP (engine and gateway, every route): any body, content type, hint header or method gets a status
 *   below 600 within its time bound, and every 4xx/5xx is an OpenAI-shaped JSON error; the servers keep
 *   answering `/health` and never throw (uncaught exceptions are counted);
 * - input files (trace readers of every format, workflow specs): a result or an `InputError` naming the
 *   file, never another exception;
 * - the command line (a sample of cases, each a real `kvflow` process): exit 0, 1 or 2, no stack trace,
 *   and with `--json` either exactly one JSON document on stdout or nothing.
 * Cases come from fast-check with a fixed seed, so a failure replays with the seed it prints.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { InputError } from '../../src/errors.js';
import { engineCoreOptions } from '../../src/serve/engine/engine-config.js';
import { startEngineServer } from '../../src/serve/engine/engine-server.js';
import { GATEWAY_DEFAULTS, startGateway } from '../../src/serve/gateway/gateway-server.js';
import { resolveHardware } from '../../src/sim/hardware.js';
import { setupByName } from '../../src/sim/setups.js';
import { readTrace } from '../../src/workload/read.js';
import { parseWorkflowSpec } from '../../src/workload/spec.js';

export interface FuzzOptions {
  cases: number;
  seed: number;
  /** The built CLI (dist/src/cli/main.js) and the folder to run it in; without it no CLI cases run. */
  cli?: { path: string; cwd: string };
  /** One CLI process per this many cases (processes cost ~0.3 s each). */
  cliEvery?: number;
}

export interface FuzzReport {
  seed: number;
  http: { cases: number; byStatus: Record<string, number> };
  files: { cases: number; accepted: number; refused: number };
  cli: { cases: number; byExit: Record<string, number> };
  violations: string[];
  seconds: number;
}

const MODEL = 'Llama-3.1-8B';
const REQUEST_TIMEOUT_MS = 15_000;

const ROUTES: { method: string; path: string }[] = [
  { method: 'POST', path: '/v1/chat/completions' },
  { method: 'POST', path: '/v1/completions' },
  { method: 'POST', path: '/v1/update' },
  { method: 'POST', path: '/v1/workflows' },
  { method: 'DELETE', path: '/v1/workflows/instances/x' },
  { method: 'GET', path: '/v1/models' },
  { method: 'GET', path: '/v1/ste' },
  { method: 'GET', path: '/v1/gateway/state' },
  { method: 'GET', path: '/v1/engine/state' },
  { method: 'GET', path: '/health' },
  { method: 'GET', path: '/metrics' },
  { method: 'PUT', path: '/v1/chat/completions' },
  { method: 'POST', path: '/nowhere' },
];

const validChat = { model: MODEL, max_tokens: 2, messages: [{ role: 'user', content: 'hello there' }] };

/** Bodies: valid ones with one field replaced by anything, arbitrary JSON, bytes, and odd shapes. */
const bodyArb: fc.Arbitrary<string | Uint8Array> = fc.oneof(
  fc.record({ key: fc.constantFrom('model', 'messages', 'max_tokens', 'stream', 'prompt', 'agent_hints', 'agent_id', 'n', 'temperature', 'cache_salt'), value: fc.jsonValue({ maxDepth: 3 }) }).map(({ key, value }) => JSON.stringify({ ...validChat, [key]: value })),
  fc.jsonValue({ maxDepth: 4 }).map((value) => JSON.stringify(value)),
  fc.string({ maxLength: 200 }),
  fc.uint8Array({ maxLength: 300 }),
  fc.record({ agent_hints: fc.dictionary(fc.constantFrom('agent_id', 'workflow_id', 'step_id', 'workflow_spec'), fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), fc.integer(), fc.constant(null))) }).map((hints) => JSON.stringify({ ...validChat, ...hints })),
  fc.constant(JSON.stringify({ ...validChat, messages: [{ role: 'user', content: 'x'.repeat(20_000) }] })),
  fc.constant(JSON.stringify({ agent_data: { a: 1, b: null }, timestep_cnt: 3, partial: true })),
  fc.constant(JSON.stringify({ name: 'w', agents: { a: { fixed: 1e12, dynamic: 1, output: 1 } }, start: 'a' })),
);

const contentTypeArb = fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', undefined);

const headerValueArb = fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom('%', '%zz', '%E2%82%AC', '%0D%0Aevil', 'a'.repeat(300)));

export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const started = performance.now();
  const report: FuzzReport = {
    seed: options.seed,
    http: { cases: 0, byStatus: {} },
    files: { cases: 0, accepted: 0, refused: 0 },
    cli: { cases: 0, byExit: {} },
    violations: [],
    seconds: 0,
  };
  const violate = (message: string) => {
    if (report.violations.length < 50) report.violations.push(message);
  };
  const uncaught = (error: unknown) => violate(`uncaught exception: ${(error as Error)?.stack ?? String(error)}`);
  process.on('uncaughtException', uncaught);
  process.on('unhandledRejection', uncaught);

  const hardware = resolveHardware({ gpu: 'A10G', model: MODEL });
  const engine = await startEngineServer({ ...engineCoreOptions(hardware, { speed: 10_000, setup: setupByName('kvflow') }), modelName: MODEL });
  const gateway = await startGateway({ ...GATEWAY_DEFAULTS, upstreams: [{ url: engine.url, kind: 'kvflow' }], models: [MODEL], warn: () => {}, logLine: () => {} });
  const dir = await mkdtemp(join(tmpdir(), 'kvflow-fuzz-'));
  try {
    const httpCases = Math.ceil(options.cases * 0.7);
    const fileCases = options.cases - httpCases;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(engine.url, gateway.url),
        fc.constantFrom(...ROUTES),
        bodyArb,
        contentTypeArb,
        fc.option(fc.record({ name: fc.constantFrom('x-kvflow-agent', 'x-kvflow-workflow', 'x-kvflow-step', 'authorization'), value: headerValueArb })),
        async (base, route, body, contentType, header) => {
          report.http.cases++;
          const status = await httpCase(base, route, body, contentType, header, violate);
          report.http.byStatus[status] = (report.http.byStatus[status] ?? 0) + 1;
          return true;
        },
      ),
      { seed: options.seed, numRuns: httpCases, endOnFailure: true },
    );
    for (const url of [engine.url, gateway.url]) {
      const health = await fetch(`${url}/health`, { signal: AbortSignal.timeout(5_000) }).catch(() => undefined);
      if (health?.status !== 200) violate(`${url}/health does not answer 200 after the fuzz run`);
    }

    let cliBudget = options.cli ? Math.min(500, Math.ceil(fileCases / (options.cliEvery ?? 20))) : 0;
    await fc.assert(
      fc.asyncProperty(fileCaseArb, async (input) => {
        report.files.cases++;
        const path = join(dir, `case-${report.files.cases}.${input.kind === 'spec' ? 'json' : input.extension}`);
        await writeFile(path, input.text);
        const accepted = await fileCase(input.kind, path, violate);
        if (accepted) report.files.accepted++;
        else report.files.refused++;
        if (options.cli && cliBudget > 0 && report.files.cases % (options.cliEvery ?? 20) === 0) {
          cliBudget--;
          report.cli.cases++;
          const exit = await cliCase(options.cli, input.kind, path, violate);
          report.cli.byExit[exit] = (report.cli.byExit[exit] ?? 0) + 1;
        }
        return true;
      }),
      { seed: options.seed + 1, numRuns: fileCases, endOnFailure: true },
    );
  } finally {
    process.off('uncaughtException', uncaught);
    process.off('unhandledRejection', uncaught);
    await gateway.close();
    await engine.close();
    await rm(dir, { recursive: true, force: true });
  }
  report.seconds = (performance.now() - started) / 1000;
  return report;
}

async function httpCase(
  base: string,
  route: { method: string; path: string },
  body: string | Uint8Array,
  contentType: string | undefined,
  header: { name: string; value: string } | null,
  violate: (message: string) => void,
): Promise<string> {
  const headers: Record<string, string> = {};
  if (contentType) headers['content-type'] = contentType;
  if (header && /^[\t\x20-\x7e\x80-\xff]*$/.test(header.value)) headers[header.name] = header.value;
  const what = `${route.method} ${base}${route.path} (${contentType ?? 'no content type'})`;
  try {
    const response = await fetch(`${base}${route.path}`, {
      method: route.method,
      headers,
      ...(route.method !== 'GET' && { body: typeof body === 'string' ? body : Buffer.from(body).toString('latin1') }),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const text = await response.text();
    if (response.status >= 400) {
      let shaped = false;
      try {
        const error = (JSON.parse(text) as { error?: Record<string, unknown> }).error;
        shaped = typeof error?.message === 'string' && typeof error.type === 'string' && 'param' in error && 'code' in error;
      } catch {
        shaped = false;
      }
      if (!shaped) violate(`${what}: ${response.status} without an OpenAI-shaped error body: ${text.slice(0, 200)}`);
      if (/\n\s+at /.test(text)) violate(`${what}: a stack trace in the response`);
    }
    return String(response.status);
  } catch (error) {
    violate(`${what}: no answer: ${(error as Error).message}`);
    return 'none';
  }
}

interface FileCase {
  kind: 'trace' | 'spec';
  extension: string;
  text: string;
}

const traceLineArb = fc.oneof(
  fc.record({ timestamp: fc.oneof(fc.integer(), fc.double(), fc.string()), input_length: fc.oneof(fc.integer({ min: -5, max: 5000 }), fc.string()), output_length: fc.integer({ min: -5, max: 500 }), hash_ids: fc.oneof(fc.array(fc.integer({ min: -3, max: 50 }), { maxLength: 12 }), fc.string()) }, { requiredKeys: [] }).map((line) => JSON.stringify(line)),
  fc.record({ id: fc.string(), t: fc.oneof(fc.double(), fc.string()), blocks: fc.array(fc.integer({ min: -2, max: 100 }), { maxLength: 8 }), input_length: fc.integer({ min: -5, max: 200 }), output_length: fc.integer({ min: -1, max: 20 }), after: fc.array(fc.string(), { maxLength: 2 }) }, { requiredKeys: [] }).map((line) => JSON.stringify(line)),
  fc.record({ timestamp: fc.integer(), input: fc.string({ maxLength: 60 }), output: fc.string({ maxLength: 20 }), session_id: fc.string({ maxLength: 6 }) }, { requiredKeys: [] }).map((line) => JSON.stringify(line)),
  fc.string({ maxLength: 80 }),
);

const fileCaseArb: fc.Arbitrary<FileCase> = fc.oneof(
  fc.record({ kind: fc.constant<'trace'>('trace'), extension: fc.constant('jsonl'), text: fc.array(traceLineArb, { minLength: 0, maxLength: 8 }).map((lines) => lines.join('\n')) }),
  fc.record({
    kind: fc.constant<'trace'>('trace'),
    extension: fc.constant('csv'),
    text: fc.array(fc.tuple(fc.string({ maxLength: 27 }), fc.oneof(fc.integer({ min: -3, max: 9000 }), fc.string({ maxLength: 4 })), fc.integer({ min: -3, max: 900 })), { maxLength: 6 }).map((rows) => ['TIMESTAMP,ContextTokens,GeneratedTokens', ...rows.map((row) => row.join(','))].join('\r\n')),
  }),
  fc.record({
    kind: fc.constant<'spec'>('spec'),
    extension: fc.constant('json'),
    text: fc.oneof(
      fc.jsonValue({ maxDepth: 4 }).map((value) => JSON.stringify(value)),
      fc.record({ name: fc.string(), agents: fc.dictionary(fc.string({ maxLength: 3 }), fc.record({ fixed: fc.oneof(fc.integer(), fc.double()), dynamic: fc.integer({ min: -1, max: 64 }), output: fc.integer({ min: 0, max: 8 }) })), edges: fc.array(fc.record({ from: fc.string({ maxLength: 3 }), to: fc.oneof(fc.string({ maxLength: 3 }), fc.array(fc.string({ maxLength: 3 }), { maxLength: 3 })), kind: fc.constantFrom('chain', 'branch', 'fanout', 'join', 'loop', 'x') }, { requiredKeys: ['from', 'to'] }), { maxLength: 4 }), start: fc.string({ maxLength: 3 }), instances: fc.oneof(fc.integer({ min: -1, max: 3 }), fc.constant(1e12)), rounds: fc.integer({ min: 0, max: 3 }) }, { requiredKeys: ['name', 'agents'] }).map((value) => JSON.stringify(value)),
      fc.string({ maxLength: 100 }),
    ),
  }),
);

/** Reads the file with the library; true when it was accepted. Anything but InputError is a violation. */
async function fileCase(kind: 'trace' | 'spec', path: string, violate: (message: string) => void): Promise<boolean> {
  try {
    if (kind === 'spec') {
      const { readFile } = await import('node:fs/promises');
      let json: unknown;
      try {
        json = JSON.parse(await readFile(path, 'utf8'));
      } catch {
        return false; // not JSON: the CLI reports that as an InputError too (input-files.ts)
      }
      parseWorkflowSpec(json, path);
    } else {
      await readTrace(path, { blockSize: 16 });
    }
    return true;
  } catch (error) {
    if (error instanceof InputError) {
      if (!error.message.includes(path)) violate(`${path}: the error does not name the file: ${error.message}`);
      return false;
    }
    if ((error as Error)?.name === 'EmptyTraceError') return false;
    violate(`${path}: ${(error as Error)?.stack ?? String(error)}`);
    return false;
  }
}

/** Runs `kvflow` on the file; checks exit code, stack-free stderr and all-or-nothing JSON on stdout. */
function cliCase(cli: { path: string; cwd: string }, kind: 'trace' | 'spec', file: string, violate: (message: string) => void): Promise<string> {
  const args = kind === 'spec' ? ['simulate', '--workload', file, '--json', '--setups', 'sglang'] : ['replay', '--trace', file, '--json', '--capacity', '64', '--policy', 'lru'];
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli.path, ...args], { cwd: cli.cwd, stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('close', (code, signal) => {
      const what = `kvflow ${args.join(' ')}`;
      if (signal !== null) violate(`${what}: killed by ${signal} (time bound)`);
      else if (code !== 0 && code !== 1 && code !== 2) violate(`${what}: exit ${code}`);
      if (/\n\s+at |internal error/.test(stderr)) violate(`${what}: a stack trace or internal error: ${stderr.slice(0, 300)}`);
      if (stdout !== '') {
        try {
          JSON.parse(stdout);
          if (code !== 0) violate(`${what}: JSON on stdout with exit ${code}`);
        } catch {
          violate(`${what}: partial JSON on stdout`);
        }
      }
      resolve(signal ?? String(code));
    });
  });
}

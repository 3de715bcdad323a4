/**
 * Running the built `kvflow` command (dist/src/cli/main.js, built by `npm test` before vitest starts) as
 * a user would, from the repository root, and reading its exit code and output.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { REPO } from './sim.js';

export const CLI = join(REPO, 'dist/src/cli/main.js');

/** The hint commander prints under its own usage errors (main.ts `showHelpAfterError`). */
export const USAGE_HINT = '(run with --help for usage)';

export interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `kvflow ...args` with the repository root as working directory (asynchronously, so tests can overlap). */
export function kvflow(args: readonly string[], options: { timeoutMs?: number } = {}): Promise<CliRun> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first (npx tsc -p tsconfig.build.json)`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: REPO,
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: options.timeoutMs ?? 60_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (status, signal) => {
      if (signal !== null) reject(new Error(`kvflow ${args.join(' ')} was killed by ${signal}; stderr: ${stderr}`));
      else resolve({ status, stdout, stderr });
    });
  });
}

/** Exit 0, nothing on stderr, and stdout is exactly one JSON document on one line. */
export function expectJsonDocument(run: CliRun): unknown {
  expect(run.stderr).toBe('');
  expect(run.status).toBe(0);
  expect(run.stdout.endsWith('\n')).toBe(true);
  expect(run.stdout.trimEnd().split('\n')).toHaveLength(1);
  return JSON.parse(run.stdout) as unknown;
}

/**
 * Bad input: exit 2, nothing on stdout, and one line on stderr naming the problem (commander's usage
 * hint below it aside). Returns that line.
 */
export function expectUsageError(run: CliRun, ...mentions: (string | RegExp)[]): string {
  expect(run.stdout).toBe('');
  expect(run.status, run.stderr).toBe(2);
  const lines = run.stderr
    .split('\n')
    .map((line) => line.trimEnd())
    .filter((line) => line !== '' && line !== USAGE_HINT);
  expect(lines, `stderr: ${run.stderr}`).toHaveLength(1);
  const line = lines[0]!;
  for (const mention of mentions) {
    if (typeof mention === 'string') expect(line).toContain(mention);
    else expect(line).toMatch(mention);
  }
  expect(line).not.toMatch(/internal error|\n\s+at /);
  return line;
}

/** The keys of an object, sorted, for exact key-set comparisons. */
export function keysOf(value: unknown): string[] {
  expect(value).toBeTypeOf('object');
  expect(value).not.toBeNull();
  return Object.keys(value as object).sort();
}

/** A `kvflow engine` or `kvflow gateway` process, up and listening. */
export interface CliServer {
  url: string;
  /** Everything it printed on stderr so far. */
  stderr(): string;
  stop(): Promise<void>;
}

/**
 * Starts a serving command (`engine`, `gateway`) with `--port 0` and waits for its "listening on URL" line.
 * Rejects with its stderr if it exits first.
 */
export function startCliServer(args: readonly string[], env: Record<string, string> = {}): Promise<CliServer> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first (npx tsc -p tsconfig.build.json)`);
  const child = spawn(process.execPath, [CLI, ...args, '--port', '0'], {
    cwd: REPO,
    env: { ...process.env, ...env, NO_COLOR: '1', FORCE_COLOR: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  return new Promise((resolve, reject) => {
    child.on('close', (status) => reject(new Error(`kvflow ${args.join(' ')} exited (${status}) before listening: ${stderr}`)));
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const match = /listening on (http:\/\/\S+)/.exec(stdout);
      if (match) {
        resolve({
          url: match[1]!,
          stderr: () => stderr,
          stop: async () => {
            child.kill('SIGTERM');
            await exited;
          },
        });
      }
    });
  });
}

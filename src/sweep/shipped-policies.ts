/**
 * User policy files travel with queued sweep points: the sweep reads every policy file a point names and
 * puts its source, hash and module format in the job. A worker uses the file at the same path when it
 * has the same content (so a policy importing helpers beside it works on a shared filesystem), and else
 * writes the shipped source to a content-addressed file of its own (a self-contained policy then runs on
 * any machine without copying anything).
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { isPolicyPath } from '../config/policy-spec.js';
import { InputError } from '../errors.js';
import type { SweepRun } from './sweep-grid.js';

/** Largest policy file shipped in a job. */
export const MAX_SHIPPED_POLICY_BYTES = 1024 * 1024;

export interface ShippedPolicy {
  /** Absolute path on the sweep's machine (how the point names it). */
  path: string;
  sha256: string;
  /** How Node loads it there: an ES module or CommonJS (a `.js` file follows its package.json). */
  format: 'module' | 'commonjs';
  source: string;
}

/** Policy file paths a run names (absolute: the grid loader resolved them against the grid's folder). */
export function policyPaths(run: SweepRun): string[] {
  const config = run.config as Record<string, unknown>;
  const paths = new Set<string>();
  if (Array.isArray(config.policy)) for (const spec of config.policy as string[]) if (isPolicyPath(spec)) paths.add(spec);
  for (const field of ['setups', 'setup'] as const) {
    if (!Array.isArray(config[field])) continue;
    for (const spec of config[field] as unknown[]) {
      const policy = typeof spec === 'object' && spec !== null ? (spec as { policy?: unknown }).policy : undefined;
      if (typeof policy === 'string' && isPolicyPath(policy)) paths.add(policy);
    }
  }
  return [...paths];
}

/** Reads the policy files of `run` for its job; a missing or oversized file names the run. */
export async function shipPolicies(run: SweepRun, where: string): Promise<ShippedPolicy[]> {
  return Promise.all(
    policyPaths(run).map(async (path) => {
      let bytes: Buffer;
      try {
        bytes = await readFile(path);
      } catch (error) {
        throw new InputError(`${where}: policy ${path}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
      }
      if (bytes.length > MAX_SHIPPED_POLICY_BYTES) throw new InputError(`${where}: policy ${path}: larger than ${MAX_SHIPPED_POLICY_BYTES} bytes`);
      return { path, sha256: sha256(bytes), format: await moduleFormat(path), source: bytes.toString('utf8') };
    }),
  );
}

export interface LocalPolicies {
  run: SweepRun;
  /** Shipped copies used instead of the named path (the file here is missing or differs). */
  copies: { path: string; copy: string }[];
}

/** The run with each shipped policy path replaced by a local file holding exactly the shipped source. */
export async function localPolicies(run: SweepRun, shipped: readonly ShippedPolicy[], folder = join(tmpdir(), 'kvflow-shipped-policies')): Promise<LocalPolicies> {
  const replace = new Map<string, string>();
  for (const policy of shipped) {
    if (await sameContent(policy.path, policy.sha256)) continue;
    const copy = join(folder, `${policy.sha256}.${policy.format === 'module' ? 'mjs' : 'cjs'}`);
    if (!existsSync(copy)) {
      await mkdir(folder, { recursive: true });
      // Written under a temporary name and renamed: concurrent points never import half a file.
      const partial = `${copy}.${process.pid}.${Math.random().toString(36).slice(2)}`;
      await writeFile(partial, policy.source);
      await rename(partial, copy);
    }
    replace.set(policy.path, copy);
  }
  if (replace.size === 0) return { run, copies: [] };
  const fix = (spec: string) => replace.get(spec) ?? spec;
  const config: Record<string, unknown> = { ...run.config };
  if (Array.isArray(config.policy)) config.policy = (config.policy as string[]).map(fix);
  for (const field of ['setups', 'setup'] as const) {
    if (!Array.isArray(config[field])) continue;
    config[field] = (config[field] as unknown[]).map((spec) =>
      typeof spec === 'object' && spec !== null && typeof (spec as { policy?: unknown }).policy === 'string'
        ? { ...spec, policy: fix((spec as { policy: string }).policy) }
        : spec,
    );
  }
  return { run: { ...run, config } as SweepRun, copies: [...replace].map(([path, copy]) => ({ path, copy })) };
}

async function sameContent(path: string, hash: string): Promise<boolean> {
  try {
    return sha256(await readFile(path)) === hash;
  } catch {
    return false;
  }
}

function sha256(bytes: Buffer | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** `.mjs` and `.cjs` say it; a `.js` file is what its nearest package.json's `type` makes it. */
async function moduleFormat(path: string): Promise<'module' | 'commonjs'> {
  if (path.endsWith('.mjs')) return 'module';
  if (path.endsWith('.cjs')) return 'commonjs';
  for (let folder = dirname(path); ; folder = dirname(folder)) {
    try {
      const pkg = JSON.parse(await readFile(join(folder, 'package.json'), 'utf8')) as { type?: unknown };
      return pkg.type === 'module' ? 'module' : 'commonjs';
    } catch {
      // no (readable) package.json here: look further up
    }
    if (dirname(folder) === folder) return 'commonjs';
  }
}

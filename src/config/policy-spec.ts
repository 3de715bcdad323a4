/**
 * Policy names and policy files, resolved once at the command-line and configuration boundary: a name is
 * looked up in the registry (cache/policy-registry-base.ts; a learned built-in's module loads when it is
 * named); a path (`./my-policy.js`) is imported as an ES module whose default export is a policy class or
 * factory, checked by shape, and joins the registry under its `name`. Drivers only ever see the resulting
 * factories.
 */
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { EvictionPolicy, PolicyFactory } from '../cache/policy.js';
import { policyRegistry } from '../cache/policy-registry-base.js';
import { InputError } from '../errors.js';

/** A resolved policy: its name (for results) and a factory making a fresh object per cache. */
export interface PolicyChoice {
  readonly name: string;
  readonly create: PolicyFactory;
  /** As written: a registered name or a file path. */
  readonly spec: string;
  /** Reads the future (`usesNextUse`): only offline drivers (replay, simulate, sweep) can run it. */
  readonly offline: boolean;
}

export interface ResolveOptions {
  /** Labels errors: a flag (`--policy`) or a document position (`grid.json: base.policy`). */
  where: string;
  /** Folder relative paths are resolved against (default: the working directory). */
  base?: string;
  /** The driver is online (engine, gateway): a policy that reads the future is an error. */
  online?: boolean;
}

/** The help text of a `--policy` list: built-in names and the policy-file form. */
export function policyListHelp(): string {
  return `comma list of ${policyRegistry.builtInNames().join(', ')} or policy files (./my-policy.js: an ES module whose default export is a policy class or factory)`;
}

/** A spec names a file when it looks like a path rather than a registry name. */
export function isPolicyPath(spec: string): boolean {
  return spec.includes('/') || spec.includes('\\') || /\.(m?js|cjs)$/.test(spec);
}

const loaded = new Map<string, Promise<PolicyChoice>>();

/** Resolves one policy name or file. Every failure is an `InputError` naming `where` and the spec. */
export async function resolvePolicy(spec: string, options: ResolveOptions): Promise<PolicyChoice> {
  const trimmed = spec.trim();
  let choice: PolicyChoice;
  if (isPolicyPath(trimmed)) {
    const file = isAbsolute(trimmed) ? trimmed : resolve(options.base ?? process.cwd(), trimmed);
    let pending = loaded.get(file);
    if (!pending) {
      pending = loadPolicyFile(file, trimmed, options.where);
      loaded.set(file, pending);
      pending.catch(() => loaded.delete(file));
    }
    choice = await pending;
  } else {
    // A learned built-in's module loads here, when it is named.
    const entry = await policyRegistry.load(trimmed);
    if (!entry) {
      const { unknownName } = await import('../did-you-mean.js');
      throw InputError.flag(
        options.where,
        `${unknownName(trimmed, policyRegistry.names(), 'policy')}; or a policy file such as ./my-policy.js`,
      );
    }
    choice = { name: entry.name, create: entry.create, spec: trimmed, offline: entry.create().usesNextUse === true };
  }
  if (options.online && choice.offline) {
    throw InputError.flag(options.where, `policy "${choice.name}" reads the future (usesNextUse), which a server does not have`);
  }
  return choice;
}

/** Resolves a comma list (or array) of names and files, keeping order and dropping repeats. */
export async function resolvePolicies(specs: string | readonly string[], options: ResolveOptions): Promise<PolicyChoice[]> {
  const list = typeof specs === 'string' ? specs.split(',') : specs;
  const choices: PolicyChoice[] = [];
  for (const spec of list) {
    if (spec.trim() === '') throw InputError.flag(options.where, 'empty policy in the list');
    const choice = await resolvePolicy(spec, options);
    const same = choices.find((other) => other.name === choice.name);
    if (same && same.create !== choice.create) {
      throw InputError.flag(options.where, `two policies are named "${choice.name}" (${same.spec}, ${choice.spec})`);
    }
    if (!same) choices.push(choice);
  }
  return choices;
}

async function loadPolicyFile(file: string, spec: string, where: string): Promise<PolicyChoice> {
  const fail = (problem: string) => InputError.flag(where, `${spec}: ${problem}`);
  let module: { default?: unknown };
  try {
    module = (await import(pathToFileURL(file).href)) as { default?: unknown };
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' && String((error as Error).message).includes(file)) throw fail('no such file');
    throw fail(`cannot load the module: ${oneLine(error)}`);
  }
  const exported = module.default;
  if (typeof exported !== 'function') {
    throw fail(`the default export must be a policy class or a function returning a policy (got ${describe(exported)})`);
  }
  const create = policyFactory(exported as (...args: never[]) => unknown);
  let probe: EvictionPolicy;
  try {
    probe = create();
  } catch (error) {
    throw fail(`making a policy threw: ${oneLine(error)}`);
  }
  const problem = shapeProblem(probe);
  if (problem) throw fail(problem);
  const existing = policyRegistry.get(probe.name);
  if (existing) {
    throw fail(`its name "${probe.name}" is already taken by ${existing.builtIn ? 'a built-in policy' : 'another policy file'}`);
  }
  policyRegistry.register(probe.name, create, `from ${spec}`);
  return { name: probe.name, create, spec, offline: probe.usesNextUse === true };
}

/** A class is constructed, anything else called; either way each call is a fresh policy, checked by shape. */
function policyFactory(exported: (...args: never[]) => unknown): PolicyFactory {
  const constructible = typeof exported.prototype === 'object' && exported.prototype !== null;
  // The driver's context (the cache size) is passed on, as to built-in factories.
  return (context) => {
    const args = context === undefined ? [] : [context];
    const made = constructible
      ? Reflect.construct(exported as unknown as new (...a: unknown[]) => unknown, args)
      : (exported as (...a: unknown[]) => unknown)(...args);
    const problem = shapeProblem(made);
    if (problem) throw new Error(problem);
    return made as EvictionPolicy;
  };
}

const OPTIONAL_METHODS = ['bind', 'forget', 'beforeRequest', 'afterRequest', 'notePrompt', 'applySte', 'stePriority'] as const;

function shapeProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return `it made ${describe(value)}, not a policy object`;
  const policy = value as Record<string, unknown>;
  if (typeof policy.name !== 'string' || policy.name.trim() === '') return 'the policy has no name (a non-empty string `name`)';
  if (/[,=\s]/.test(policy.name)) return `the policy name "${policy.name}" has a comma, "=" or space`;
  if (typeof policy.priority !== 'function') return `policy "${policy.name}" has no priority(page, pages) method`;
  for (const method of OPTIONAL_METHODS) {
    if (policy[method] !== undefined && typeof policy[method] !== 'function') return `policy "${policy.name}": ${method} must be a method`;
  }
  if (policy.usesNextUse !== undefined && typeof policy.usesNextUse !== 'boolean') return `policy "${policy.name}": usesNextUse must be a boolean`;
  return undefined;
}

function describe(value: unknown): string {
  if (value === undefined) return 'no default export';
  if (value === null) return 'null';
  return Array.isArray(value) ? 'an array' : `a ${typeof value}`;
}

function oneLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0]!.trim();
}

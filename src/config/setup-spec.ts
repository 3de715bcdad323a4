/**
 * Setups from parts: `name=mine,policy=./p.js,cpu=on,prefetch=ste` on the command line, or the same as an
 * object in a configuration document (`{ "name": "mine", "policy": "./p.js", "cpu": true, ... }`). A
 * definition may start from a preset (`base=kvflow`) and change some of its parts, and may run on an engine
 * profile of its own (`engine=ideal`); the presets themselves live in sim/setups.ts.
 */
import type { z } from 'zod';
import { InputError } from '../errors.js';
import { inputErrorFrom } from '../zod-issues.js';
import { ENGINE_NAMES } from '../sim/engine-profile.js';
import { isSetupName, policySetup, SETUP_NAMES, SETUP_PRESETS, setupByName, type Setup, type SetupName } from '../sim/setups.js';
import { lazySchema, type ZodApi } from '../workload/lazy-zod.js';
import { resolvePolicies, resolvePolicy, type ResolveOptions } from './policy-spec.js';

/** A setup definition as a document writes it (`--setup` text is parsed into the same object), built with
 * the caller's zod (its ESM and CommonJS builds are separate instances: schemas are not mixed). Nothing
 * builds it for preset setups: such runs never load zod. */
export function setupDefinitionSchema(z: ZodApi) {
  const onOff = z.union([z.boolean(), z.enum(['on', 'off']).transform((value) => value === 'on')]);
  return z.strictObject({
    name: z.string().regex(/^[^,=\s]+$/, 'a name without commas, "=" or spaces').describe('names the setup in results and speedups'),
    base: z.enum(SETUP_NAMES).optional().describe('preset whose parts the others change (default: GPU only, lru, no prefetch)'),
    policy: z.string().min(1).optional().describe('eviction policy: a registered name or a policy file'),
    cpu: onOff.optional().describe('CPU tier: write-through backup and load-back (on/off)'),
    prefetch: z
      .union([z.boolean(), z.enum(['ste', 'on', 'off']).transform((value) => value !== 'off')])
      .optional()
      .describe('overlapped prefetch of agents due soon by STE (ste/on/off)'),
    statusAware: onOff.optional().describe('skip requests whose prefix is still loading (default: on with prefetch)'),
    engine: z.enum(ENGINE_NAMES).optional().describe("engine profile the setup runs on (default: the run's --engine)"),
  });
}
const lazyDefinitionSchema = lazySchema(setupDefinitionSchema);
export type SetupDefinition = z.output<ReturnType<typeof setupDefinitionSchema>>;

/** A setup as written: a preset name, or a definition. */
export type SetupSpec = string | SetupDefinition;

const KEYS: Record<string, keyof SetupDefinition> = {
  name: 'name',
  base: 'base',
  policy: 'policy',
  cpu: 'cpu',
  prefetch: 'prefetch',
  'status-aware': 'statusAware',
  statusAware: 'statusAware',
  engine: 'engine',
};

/** `name=mine,policy=./p.js,cpu=on` into a definition; `where` labels errors (`--setup`). */
export function parseSetupText(text: string, where: string): SetupDefinition {
  const raw: Record<string, string> = {};
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    const key = KEYS[part.slice(0, eq).trim()];
    if (eq < 0 || key === undefined) {
      throw InputError.flag(where, `"${part}" is not key=value with a key of ${Object.keys(KEYS).filter((k) => k !== 'statusAware').join(', ')}`);
    }
    if (raw[key] !== undefined) throw InputError.flag(where, `${part.slice(0, eq)} is given twice`);
    raw[key] = part.slice(eq + 1).trim();
  }
  const parsed = lazyDefinitionSchema().safeParse(raw);
  if (!parsed.success) throw inputErrorFrom(parsed.error, { flag: where }, { root: 'setup' });
  return parsed.data;
}

/** A preset name or a `key=value` definition. */
export function parseSetupSpec(text: string, where: string): SetupSpec {
  const trimmed = text.trim();
  if (!trimmed.includes('=')) {
    if (!isSetupName(trimmed)) throw InputError.flag(where, `unknown setup "${trimmed}" (presets: ${SETUP_NAMES.join(', ')}; or name=...,policy=...)`);
    return trimmed;
  }
  return parseSetupText(trimmed, where);
}

/** Builds the setup a spec describes, resolving its policy (a name or a file) once. */
export async function resolveSetup(spec: SetupSpec, options: ResolveOptions): Promise<Setup> {
  if (typeof spec === 'string') {
    if (!isSetupName(spec)) throw InputError.flag(options.where, `unknown setup "${spec}" (presets: ${SETUP_NAMES.join(', ')})`);
    const setup = setupByName(spec);
    if (options.online) await resolvePolicy(SETUP_PRESETS[spec].policy, options);
    return setup;
  }
  const base = spec.base ? SETUP_PRESETS[spec.base as SetupName] : undefined;
  const policy = await resolvePolicy(spec.policy ?? base?.policy ?? 'lru', options);
  const prefetch = spec.prefetch ?? base?.prefetch ?? false;
  return {
    name: spec.name,
    policy: policy.create,
    cpuTier: spec.cpu ?? base?.cpuTier ?? false,
    prefetch,
    statusAware: spec.statusAware ?? (spec.prefetch !== undefined ? prefetch : (base?.statusAware ?? false)),
    ...(spec.engine !== undefined && { engine: spec.engine }),
  };
}

/**
 * The setups a run compares: presets and definitions in order, then one GPU-only setup per `--policy`
 * entry named after its policy. Names must differ.
 */
export async function resolveSetups(
  specs: readonly SetupSpec[],
  policies: readonly string[],
  options: ResolveOptions & { policyWhere: string },
): Promise<Setup[]> {
  const setups: Setup[] = [];
  for (const spec of specs) setups.push(await resolveSetup(spec, options));
  const policyOptions = { ...options, where: options.policyWhere };
  for (const choice of await resolvePolicies(policies, policyOptions)) setups.push(policySetup(choice.name, choice.create));
  const seen = new Set<string>();
  for (const setup of setups) {
    if (seen.has(setup.name)) throw InputError.flag(options.where, `two setups are named "${setup.name}"`);
    seen.add(setup.name);
  }
  return setups;
}

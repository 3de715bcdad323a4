import { InvalidArgumentError } from 'commander';
import { resolvePolicy } from '../config/policy-spec.js';
import { parseSetupSpec, resolveSetup, type SetupSpec } from '../config/setup-spec.js';
import { ENGINE_SETUPS } from '../serve/engine/engine-config.js';
import type { Setup } from '../sim/setups.js';

/** `--setup` of an online engine: a preset it can run (not belady) or a `name=...,policy=...` definition. */
export function parseEngineSetup(text: string): SetupSpec {
  const spec = parseSetupSpec(text, '--setup');
  if (typeof spec === 'string' && !(ENGINE_SETUPS as readonly string[]).includes(spec)) {
    throw new InvalidArgumentError(`"${spec}" needs the future; an engine can run ${ENGINE_SETUPS.join(', ')}`);
  }
  return spec;
}

/** The engine's setup, with `--policy` (a name or a policy file) replacing the setup's policy when given. */
export async function engineSetup(spec: SetupSpec, policy: string | undefined): Promise<Setup> {
  const setup = await resolveSetup(spec, { where: '--setup', online: true });
  if (policy === undefined) return setup;
  const choice = await resolvePolicy(policy, { where: '--policy', online: true });
  return { ...setup, policy: choice.create };
}

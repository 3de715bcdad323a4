import { resolvePolicy } from '../config/policy-spec.js';
import { resolveSetup, type SetupSpec } from '../config/setup-spec.js';
import type { Setup } from '../sim/setups.js';

/** The engine's setup, with `--policy` (a name or a policy file) replacing the setup's policy when given. */
export async function engineSetup(spec: SetupSpec, policy: string | undefined): Promise<Setup> {
  const setup = await resolveSetup(spec, { where: '--setup', online: true });
  if (policy === undefined) return setup;
  const choice = await resolvePolicy(policy, { where: '--policy', online: true });
  return { ...setup, policy: choice.create };
}

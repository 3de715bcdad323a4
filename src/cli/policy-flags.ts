import { policyRegistry } from '../cache/policy-registry.js';

/** The help text of a `--policy` list: built-in names and the policy-file form. */
export function policyListHelp(): string {
  return `comma list of ${policyRegistry.builtInNames().join(', ')} or policy files (./my-policy.js: an ES module whose default export is a policy class or factory)`;
}

/** `kvflow/config`: names and definitions resolved at the command-line and configuration boundary: policy files and setups. This file only re-exports. */
export { resolvePolicy, resolvePolicies, isPolicyPath, type PolicyChoice, type ResolveOptions } from './policy-spec.js';
export { parseSetupSpec, resolveSetup, resolveSetups, setupDefinitionSchema, type SetupDefinition, type SetupSpec } from './setup-spec.js';

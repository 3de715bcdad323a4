/**
 * The fields of a replay run: `kvflow replay`'s run flags (cli/replay.ts) and a `replay` sweep grid's
 * fields (sweep/sweep-grid.ts) both come from this table. The workload fields are the simulate ones
 * (config/workload-fields.ts), worded for replay.
 */
// Names the zod types in the table's inferred type (type-only: nothing loads zod here).
import type { z as Zod } from 'zod';
import { POLICY_NAMES } from '../types.js';
import { parseQuantity, parseQuantityList } from '../units.js';
import { path, type ConfigField } from './field.js';
import { policyListHelp } from './policy-spec.js';
import { WORKLOAD_FIELDS } from './workload-fields.js';

/** Policies replayed when none are named: the learned `reuse` trains a model, so it is asked for by name. */
const DEFAULT_POLICIES: string[] = POLICY_NAMES.filter((name) => name !== 'reuse');

export const REPLAY_FIELDS = {
  trace: { ...WORKLOAD_FIELDS.trace, description: 'trace file (kvflow JSONL or Mooncake JSONL)', required: true },
  format: WORKLOAD_FIELDS.format,
  blockSize: { ...WORKLOAD_FIELDS.blockSize, description: 'tokens per block for lines that give none (kvflow default 16)' },
  capacity: {
    flag: '--capacity <list>',
    description: 'GPU capacities in tokens, comma list; k/M/G are powers of 2; inf = unbounded',
    // Repeats are dropped from a flag's list; a grid lists each value as written.
    parse: (text: string) => [...new Set(parseQuantityList(text, 'tokens'))],
    schema: (z) =>
      z
        .array(
          z.union([z.number().int().min(1), z.string(), z.null()]).transform((value, context) => {
            if (typeof value !== 'string') return value;
            try {
              return parseQuantity(value, 'tokens');
            } catch {
              context.addIssue({ code: 'custom', message: `"${value}" is not a token count (an integer with optional k, M, G suffix, or inf)` });
              return z.NEVER;
            }
          }),
        )
        .min(1),
    default: [2 ** 20, 2 ** 24, null],
    defaultText: '1M,16M,inf',
  } satisfies ConfigField<(number | null)[]>,
  policy: {
    flag: '--policy <list>',
    description: `eviction policies: ${policyListHelp()}`,
    parse: (text: string) => text.split(','),
    // Registered names or policy files (relative to the grid).
    schema: (z) => z.array(z.string().min(1)).min(1),
    default: DEFAULT_POLICIES,
    defaultText: DEFAULT_POLICIES.join(','),
  } satisfies ConfigField<string[]>,
  workflow: { flag: '--workflow <spec>', description: 'workflow spec whose step graph gives STE values to the ste policy', ...path },
  graph: {
    ...WORKLOAD_FIELDS.graph,
    description: 'where ste gets its step graph: declared (--workflow), learned (online, from the trace itself), none; default: declared with --workflow, else none',
  },
  skipInvalid: { ...WORKLOAD_FIELDS.skipInvalid, description: 'skip and count invalid trace lines instead of stopping at the first' },
  tokenizer: WORKLOAD_FIELDS.tokenizer,
  sessionsStart: WORKLOAD_FIELDS.sessionsStart,
  seed: { ...WORKLOAD_FIELDS.seed, description: 'seed for --sessions-start poisson' },
} as const satisfies Record<string, ConfigField>;

/** A replay run's settings as flags and grid points give them: every field optional. */
export type ReplaySettings = { -readonly [K in keyof typeof REPLAY_FIELDS]?: FieldValue<(typeof REPLAY_FIELDS)[K]> };
type FieldValue<F> = F extends { schema: (z: never) => Zod.ZodType<infer T, unknown> } ? T : never;

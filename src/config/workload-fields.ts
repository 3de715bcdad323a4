/**
 * The workload fields of a run (where the requests come from and how they are read), shared by simulate
 * (config/simulation-fields.ts) and replay (config/replay-fields.ts). Imports no zod and no setup code, so
 * `kvflow replay` stays light.
 */
import { FORMAT_CHOICES } from '../workload/read.js';
import { parseSessionsStart, SESSIONS_START_HELP, type SessionsStart } from '../workload/sessions-start.js';
// Names the zod types in the tables' inferred types (type-only: nothing loads zod here).
import type { z as Zod } from 'zod';
import type { TraceFormat } from '../types.js';
import { boolean, integer, oneOf, path, text, type ConfigField } from './field.js';
import { GRAPH_SOURCES, type GraphSource } from './graph-source.js';

/** Where the requests come from and how they are read. */
export const WORKLOAD_FIELDS = {
  workload: { flag: '--workload <spec>', description: 'workflow spec (JSON) expanded into closed-loop requests with --seed', ...path },
  trace: { flag: '--trace <file>', description: 'trace file (kvflow or Mooncake JSONL): open loop by t, closed loop by after', ...path },
  format: {
    flag: '--format <format>',
    description: `trace format: ${FORMAT_CHOICES.join(' | ')}`,
    ...oneOf(FORMAT_CHOICES),
    default: 'auto',
  } satisfies ConfigField<TraceFormat | 'auto'>,
  blockSize: { flag: '--block-size <n>', description: 'tokens per block for trace lines that give none', ...integer(1) },
  skipInvalid: { flag: '--skip-invalid', description: 'skip and count invalid trace lines', ...boolean },
  tokenizer: {
    flag: '--tokenizer <name>',
    description: 'tokenizer of text traces (lmcache): a model preset (Llama-3.1-8B, Llama-3.1-70B, Qwen2.5-32B), a tokenizer.json path, or cl100k_base (default Llama-3.1-8B)',
    ...text,
  },
  sessionsStart: {
    flag: '--sessions-start <mode>',
    description: `re-time sessions, each keeping its own gaps and order: ${SESSIONS_START_HELP} (docs/sessions-start.md)`,
    parse: parseSessionsStart,
    schema: (z) =>
      z.string().transform((value, context) => {
        try {
          return parseSessionsStart(value);
        } catch (error) {
          context.addIssue({ code: 'custom', message: (error as Error).message });
          return z.NEVER;
        }
      }),
  } satisfies ConfigField<SessionsStart>,
  graph: {
    flag: '--graph <source>',
    description: 'STE from: declared (the spec), learned (online from the requests), none; default: declared for --workload, none for --trace',
    ...oneOf(GRAPH_SOURCES),
  } satisfies ConfigField<GraphSource>,
  seed: { flag: '--seed <n>', description: 'seed for workload generation and --sessions-start poisson', ...integer(0), default: 1 },
} as const satisfies Record<string, ConfigField>;

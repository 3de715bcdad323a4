/**
 * zod for the trace line formats, loaded the first time a line fails its quick check (see schemas.ts):
 * valid traces never need it, and loading it takes longer than replaying a small trace. Workflow specs
 * (spec.ts) and setup definitions (config/setup-spec.ts) build theirs through it too. Loaded with
 * `require` because line parsing is synchronous; every schema built through it (line formats, the
 * hardware `--config` document in src/sim/hardware.ts) uses this one instance.
 */
import { createRequire } from 'node:module';
import type { z as Zod } from 'zod';

export type ZodApi = typeof Zod;

const require = createRequire(import.meta.url);
let zod: ZodApi | undefined;

/** A schema built on first use. */
export function lazySchema<S>(build: (z: ZodApi) => S): () => S {
  let schema: S | undefined;
  return () => (schema ??= build((zod ??= (require('zod') as { z: ZodApi }).z)));
}

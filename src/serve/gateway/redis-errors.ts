/** What the CLI needs of `--redis` without loading ioredis (redis-state-store.ts is loaded only with it). */

export const REDIS_STATE_DEFAULTS = { checkpointMs: 10_000, heartbeatMs: 1_000, admissions: 4_096 };

/** Redis could not be used at start: an operational failure, reported on one line. */
export class RedisUnreachable extends Error {
  override readonly name = 'RedisUnreachable';
}

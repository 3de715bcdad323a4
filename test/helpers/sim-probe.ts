/**
 * A transparent instrument for the serving simulator's engine replicas. `runSimulation` keeps its
 * replicas to itself, so a test file that wants to look inside replaces the replica module with
 * `withProbe(original)`:
 *
 *   vi.mock('../src/sim/replica.js', async (importOriginal) => {
 *     const { withProbe } = await import('./helpers/sim-probe.js');
 *     return withProbe(await importOriginal());
 *   });
 *
 * The probed `Replica` behaves exactly like the original (same constructor, same hooks, called in the
 * same order); it only records what happens into `probe`:
 * - every replica created (so a test can check its cache after the run),
 * - every request completion and first token, by request id,
 * - optionally, the radix cache's structural invariants at every completion,
 * - a cap on the number of events each replica schedules on the clock, so that a simulation that never
 *   terminates fails with an error instead of hanging the suite.
 */
import type * as ReplicaModule from '../../src/sim/replica.js';
import type { SimRequest } from '../../src/sim/sim-request.js';
import type { Timed } from '../../src/sim/event-queue.js';

type ReplicaClass = (typeof ReplicaModule)['Replica'];
type ReplicaInstance = InstanceType<ReplicaClass>;

export interface Probe {
  /** Replicas created since the last reset, in creation order. */
  replicas: ReplicaInstance[];
  /** Completions per request id. */
  completions: Map<string, number>;
  /** First tokens per request id (a preempted request makes its first token again). */
  firstTokens: Map<string, number>;
  /** Completed requests in completion order (their times are final). */
  completed: SimRequest[];
  /** Run `checkInvariants` on every replica's cache at every completion. */
  checkEveryCompletion: boolean;
  /** Events one replica may schedule before the probe declares the run non-terminating. */
  eventLimit: number;
}

export const DEFAULT_EVENT_LIMIT = 2_000_000;

export const probe: Probe = {
  replicas: [],
  completions: new Map(),
  firstTokens: new Map(),
  completed: [],
  checkEveryCompletion: false,
  eventLimit: DEFAULT_EVENT_LIMIT,
};

/** Clears what the probe recorded; call before each simulation you want to inspect. */
export function resetProbe(options: { checkEveryCompletion?: boolean; eventLimit?: number } = {}): void {
  probe.replicas = [];
  probe.completions = new Map();
  probe.firstTokens = new Map();
  probe.completed = [];
  probe.checkEveryCompletion = options.checkEveryCompletion ?? false;
  probe.eventLimit = options.eventLimit ?? DEFAULT_EVENT_LIMIT;
}

/** Thrown (from inside the event loop) when a run schedules more than `probe.eventLimit` events. */
export class EventLimitError extends Error {
  override readonly name = 'EventLimitError';
}

type ReplicaClock = ConstructorParameters<ReplicaClass>[1];

/** The replica's clock, counting what the replica schedules and throwing past the limit. */
function guard(clock: ReplicaClock): ReplicaClock {
  let scheduled = 0;
  const count = (): void => {
    if (++scheduled > probe.eventLimit) {
      throw new EventLimitError(
        `a replica scheduled more than ${probe.eventLimit} events (simulated time ${clock.now} s): the simulation does not terminate`,
      );
    }
  };
  return {
    get now() {
      return clock.now;
    },
    at(time: number, fire: () => void): void {
      count();
      clock.at(time, fire);
    },
    after(delay: number, fire: () => void): void {
      count();
      clock.after(delay, fire);
    },
    wake(time: number, target: Timed, tag: number): void {
      count();
      clock.wake(time, target, tag);
    },
    // The simulator's clock folds a replica's repeated decode iterations into stretches: keep that path probed too.
    ...(clock.stretch && {
      stretch(target: Timed, times: Float64Array, length: number): number {
        count();
        return clock.stretch!(target, times, length);
      },
      settle: (target: Timed): number => clock.settle!(target),
    }),
  };
}

function bump(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

/** The replica module with `Replica` replaced by a recording subclass. */
export function withProbe(original: typeof ReplicaModule): typeof ReplicaModule {
  class ProbedReplica extends original.Replica {
    constructor(...[id, clock, hooks, options]: ConstructorParameters<ReplicaClass>) {
      super(
        id,
        guard(clock),
        {
          onFirstToken: (request) => {
            bump(probe.firstTokens, request.request.id);
            hooks.onFirstToken(request);
          },
          onComplete: (request) => {
            bump(probe.completions, request.request.id);
            probe.completed.push(request);
            if (probe.checkEveryCompletion) for (const replica of probe.replicas) replica.cache.checkInvariants();
            hooks.onComplete(request);
          },
        },
        options,
      );
      probe.replicas.push(this);
    }
  }
  return { ...original, Replica: ProbedReplica };
}

/**
 * Load shedding for both servers: at most `maxInFlight` generation requests are worked on at once, at
 * most `maxQueued` more wait for a slot (first come, first served), each for at most `queueTimeoutMs`.
 * A request finding the queue full, or still waiting when its time is up, gets a 503 with `Retry-After`
 * at once, before its body is read: a saturated server answers the excess cheaply instead of letting every
 * client's latency grow until it times out, and the requests it admits keep a bounded wait.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Counter, Gauge, type Registry } from 'prom-client';
import { ApiError, errorBody } from './openai-errors.js';

export interface AdmissionLimits {
  /** Generation requests worked on at once (admitted and not yet answered). */
  maxInFlight: number;
  /** Requests waiting for a slot; past this, 503 at once. 0: no queue. */
  maxQueued: number;
  /** Longest wait for a slot; then 503. */
  queueTimeoutMs: number;
}

/**
 * What a server may work on at once scales with what is behind it: the engine `2 x --max-running` (a
 * full batch running and one waiting), the gateway 256 per upstream (vLLM's and the engine's default
 * batch). The queue holds as many again.
 */
export const IN_FLIGHT_PER_UPSTREAM = 256;
export const ADMISSION_DEFAULTS = { queueTimeoutMs: 10_000 };

/** The limits with the defaults filled in, `maxInFlight` defaulting to `defaultInFlight`. */
export function admissionLimits(given: Partial<AdmissionLimits>, defaultInFlight: number): AdmissionLimits {
  const maxInFlight = given.maxInFlight ?? defaultInFlight;
  return { maxInFlight, maxQueued: given.maxQueued ?? maxInFlight, queueTimeoutMs: given.queueTimeoutMs ?? ADMISSION_DEFAULTS.queueTimeoutMs };
}

/** Seconds a shed client is told to wait (`Retry-After`); OpenAI clients also read `retry-after-ms`. */
export const RETRY_AFTER_SECONDS = 1;

export type ShedReason = 'queue_full' | 'queue_timeout';

interface Waiter {
  /** true: a slot is now held for it; false: it timed out or was cancelled. */
  settle: (admitted: boolean) => void;
  timer: NodeJS.Timeout;
}

/** Slots and the waiting line; an admitted request holds its slot until it calls `leave` (once). */
export class AdmissionGate {
  #inFlight = 0;
  readonly #queue = new Set<Waiter>();
  readonly shed: Record<ShedReason, number> = { queue_full: 0, queue_timeout: 0 };
  admitted = 0;

  constructor(readonly limits: AdmissionLimits) {}

  get inFlight(): number {
    return this.#inFlight;
  }

  get queued(): number {
    return this.#queue.size;
  }

  /**
   * A slot now, a refusal (queue full), or a place in the queue: `slot` resolves true once a slot is
   * held, false when the wait timed out or `cancel` gave the place up (a client that went away).
   */
  enter(): { admitted: true } | { admitted: false } | { admitted: 'queued'; slot: Promise<boolean>; cancel: () => void } {
    if (this.#inFlight < this.limits.maxInFlight) {
      this.#take();
      return { admitted: true };
    }
    if (this.#queue.size >= this.limits.maxQueued) {
      this.shed.queue_full++;
      return { admitted: false };
    }
    let waiter!: Waiter;
    const slot = new Promise<boolean>((resolve) => {
      waiter = {
        settle: resolve,
        timer: setTimeout(() => {
          this.#queue.delete(waiter);
          this.shed.queue_timeout++;
          resolve(false);
        }, this.limits.queueTimeoutMs),
      };
    });
    this.#queue.add(waiter);
    const cancel = () => {
      if (!this.#queue.delete(waiter)) return;
      clearTimeout(waiter.timer);
      waiter.settle(false);
    };
    return { admitted: 'queued', slot, cancel };
  }

  /** Gives the slot back, to the longest-waiting request if any. */
  leave(): void {
    this.#inFlight--;
    const next = this.#queue.values().next().value;
    if (!next) return;
    this.#queue.delete(next);
    clearTimeout(next.timer);
    this.#take();
    next.settle(true);
  }

  #take(): void {
    this.#inFlight++;
    this.admitted++;
  }
}

/** The routes both servers guard: generations, the work that saturates a server. */
export function isCompletionRoute(method: string, path: string): boolean {
  return method === 'POST' && (path === '/v1/chat/completions' || path === '/v1/completions');
}

/**
 * Puts the routes `gated(method, path)` selects behind an `AdmissionGate` (checked before the body is
 * read, after authentication); a slot is held until the response is finished or the client leaves.
 */
export function installLoadShedding(app: FastifyInstance, limits: AdmissionLimits, gated: (method: string, path: string) => boolean): AdmissionGate {
  const gate = new AdmissionGate(limits);
  const leave = () => gate.leave();
  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    const query = request.url.indexOf('?');
    if (!gated(request.method, query < 0 ? request.url : request.url.slice(0, query))) return;
    const entered = gate.enter();
    if (entered.admitted === true) {
      reply.raw.once('close', leave);
      return;
    }
    if (entered.admitted === false) return refuse(reply, 'queue_full', gate);
    // Queued: a client that leaves gives up its place (or, if a slot came at that moment, the slot).
    let gone = false;
    const left = () => {
      gone = true;
      entered.cancel();
    };
    reply.raw.once('close', left);
    const admitted = await entered.slot;
    reply.raw.off('close', left);
    if (gone) {
      if (admitted) gate.leave();
      return refuse(reply, 'queue_timeout', gate); // to a closed socket: ends the hook chain, writes nothing
    }
    if (!admitted) return refuse(reply, 'queue_timeout', gate);
    reply.raw.once('close', leave);
  });
  return gate;
}

function refuse(reply: FastifyReply, reason: ShedReason, gate: AdmissionGate): FastifyReply {
  const { maxInFlight, maxQueued, queueTimeoutMs } = gate.limits;
  const message =
    reason === 'queue_full'
      ? `the server is overloaded: ${maxInFlight} requests in progress and ${maxQueued} waiting; retry after ${RETRY_AFTER_SECONDS} s`
      : `the server is overloaded: no slot freed within ${queueTimeoutMs} ms; retry after ${RETRY_AFTER_SECONDS} s`;
  const error = new ApiError(503, message, 'server_error', reason === 'queue_full' ? 'server_overloaded' : 'queue_timeout');
  return reply
    .code(503)
    .header('retry-after', String(RETRY_AFTER_SECONDS))
    .header('retry-after-ms', String(RETRY_AFTER_SECONDS * 1000))
    .type('application/json')
    .send(errorBody(error));
}

/** `PREFIX_requests_shed_total{reason}`, `PREFIX_admission_in_flight` and `PREFIX_admission_queued`, read at scrape time. */
export function registerAdmissionMetrics(registry: Registry, prefix: string, gate: AdmissionGate): void {
  const registers = [registry];
  const reported: Record<ShedReason, number> = { queue_full: 0, queue_timeout: 0 };
  const shed = new Counter({
    name: `${prefix}_requests_shed_total`,
    help: 'Completion requests answered 503 with Retry-After by load shedding: queue_full (no room to wait), queue_timeout (no slot in time)',
    labelNames: ['reason'],
    registers,
    collect() {
      for (const reason of ['queue_full', 'queue_timeout'] as const) {
        this.inc({ reason }, gate.shed[reason] - reported[reason]);
        reported[reason] = gate.shed[reason];
      }
    },
  });
  for (const reason of ['queue_full', 'queue_timeout']) shed.inc({ reason }, 0);
  new Gauge({ name: `${prefix}_admission_in_flight`, help: 'Completion requests holding a slot', registers, collect() { this.set(gate.inFlight); } });
  new Gauge({ name: `${prefix}_admission_queued`, help: 'Completion requests waiting for a slot', registers, collect() { this.set(gate.queued); } });
}

/**
 * The gateway side of one engine's KV event stream: a ZMQ SUB socket on the engine's PUB endpoint, and a
 * DEALER socket on its replay (ROUTER) endpoint. Batches are applied in sequence order. A batch whose
 * sequence number skips ahead (the PUB socket dropped some, or the gateway joined late) starts a replay
 * from the first missing one; live batches wait meanwhile. A sequence number going backwards means the
 * engine restarted (vLLM counts from 0 again, with an empty cache): the index is cleared and rebuilt from
 * a replay. When the missing batches cannot be had (no replay endpoint, no answer, or the engine's buffer
 * no longer holds them), the index is cleared, the stream goes on from there, and the index counts as
 * inexact (it may miss blocks stored during the gap) until the engine clears its cache.
 */
import type { Dealer, Subscriber } from 'zeromq';
import type { KvBlockIndex } from './kv-block-index.js';
import { decodeKvEventBatch, KvEventFormatError } from './wire.js';

export interface KvEventSubscriberOptions {
  endpoint: string;
  replayEndpoint?: string | undefined;
  /** Subscription prefix (vLLM's topic, or llm-d's `kv@`); default all. */
  topic?: string;
  index: KvBlockIndex;
  /** How long a replay may take before it counts as failed. */
  replayTimeoutMs?: number;
  /** Largest message accepted, in bytes (ZMQ drops the connection on bigger ones). */
  maxMessageBytes?: number;
  /** Operational lines (resyncs, lost batches, undecodable payloads). */
  log?: (line: string) => void;
  /** Told after every applied batch (metrics). */
  onApplied?: (seq: bigint, events: number) => void;
  onResync?: (outcome: ResyncOutcome) => void;
}

/** `replayed`: the gap was filled; `restart`: the engine restarted and was replayed; `lost`: batches are missing for good. */
export type ResyncOutcome = 'replayed' | 'restart' | 'lost';

export interface KvEventSubscriberState {
  endpoint: string;
  replayEndpoint: string | null;
  /** Sequence number of the last batch applied (null before the first). */
  lastSeq: string | null;
  batches: number;
  /** Whether every batch since the start (or the engine's last cache clear) was applied. */
  exact: boolean;
  replays: number;
  lost: number;
  restarts: number;
  decodeErrors: number;
}

export const KV_EVENT_SUBSCRIBER_DEFAULTS = { replayTimeoutMs: 2_000, maxMessageBytes: 64 * 2 ** 20, maxWaiting: 100_000 };

interface Message {
  seq: bigint;
  payload: Buffer;
}

export class KvEventSubscriber {
  readonly #options: KvEventSubscriberOptions;
  readonly #sub: Subscriber;
  readonly #log: (line: string) => void;
  #dealer: Dealer | undefined;
  /** Next sequence number to apply (undefined until the first batch or replay). */
  #expected: bigint | undefined;
  /** Live batches that arrived during a replay. */
  #waiting: Message[] = [];
  #replaying = false;
  #closed = false;
  #batches = 0;
  #exact = true;
  #replays = 0;
  #lost = 0;
  #restarts = 0;
  #decodeErrors = 0;
  #done: Promise<void>;
  #caughtUp: (() => void)[] = [];

  readonly #zmq: typeof import('zeromq');

  /** Connects (ZMQ connects in the background and reconnects by itself); no batch is applied yet. */
  static async open(options: KvEventSubscriberOptions): Promise<KvEventSubscriber> {
    // Loaded here, so gateways without KV event feeds never load the native ZMQ addon.
    return new KvEventSubscriber(options, await import('zeromq'));
  }

  private constructor(options: KvEventSubscriberOptions, zmq: typeof import('zeromq')) {
    this.#zmq = zmq;
    this.#options = options;
    this.#log = options.log ?? (() => {});
    const maxMessageSize = options.maxMessageBytes ?? KV_EVENT_SUBSCRIBER_DEFAULTS.maxMessageBytes;
    this.#sub = new zmq.Subscriber({ maxMessageSize, linger: 0 });
    this.#sub.connect(options.endpoint);
    this.#sub.subscribe(options.topic ?? '');
    if (options.replayEndpoint !== undefined) {
      this.#dealer = this.#newDealer();
    }
    this.#done = this.#run();
  }

  /** Asks for everything the engine still buffers (at start: an engine that ran before the gateway). */
  catchUp(): Promise<void> {
    if (this.#dealer === undefined) return Promise.resolve();
    return this.#resync(0n, 'restart', true);
  }

  state(): KvEventSubscriberState {
    return {
      endpoint: this.#options.endpoint,
      replayEndpoint: this.#options.replayEndpoint ?? null,
      lastSeq: this.#expected === undefined || this.#expected === 0n ? null : String(this.#expected - 1n),
      batches: this.#batches,
      exact: this.#exact,
      replays: this.#replays,
      lost: this.#lost,
      restarts: this.#restarts,
      decodeErrors: this.#decodeErrors,
    };
  }

  /** Resolves once the batch `seq` (or a later one) has been applied. */
  applied(seq: bigint): Promise<void> {
    if (this.#expected !== undefined && this.#expected > seq) return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => {
        if (this.#expected !== undefined && this.#expected > seq) resolve();
        else this.#caughtUp.push(check);
      };
      this.#caughtUp.push(check);
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#sub.close();
    this.#dealer?.close();
    await this.#done.catch(() => {});
  }

  #newDealer(): Dealer {
    const dealer = new this.#zmq.Dealer({
      linger: 0,
      // A replay endpoint nobody listens on must fail the replay, not hang it.
      sendTimeout: this.#options.replayTimeoutMs ?? KV_EVENT_SUBSCRIBER_DEFAULTS.replayTimeoutMs,
      receiveTimeout: this.#options.replayTimeoutMs ?? KV_EVENT_SUBSCRIBER_DEFAULTS.replayTimeoutMs,
      maxMessageSize: this.#options.maxMessageBytes ?? KV_EVENT_SUBSCRIBER_DEFAULTS.maxMessageBytes,
    });
    dealer.connect(this.#options.replayEndpoint!);
    return dealer;
  }

  async #run(): Promise<void> {
    try {
      for await (const frames of this.#sub) {
        if (frames.length !== 3 || frames[1]!.length !== 8) {
          this.#decodeErrors++;
          continue;
        }
        await this.#receive({ seq: frames[1]!.readBigUInt64BE(), payload: frames[2]! });
      }
    } catch (error) {
      if (!this.#closed) this.#log(`KV events from ${this.#options.endpoint}: subscriber stopped: ${(error as Error).message}`);
    }
  }

  async #receive(message: Message): Promise<void> {
    if (this.#replaying) {
      this.#waiting.push(message);
      if (this.#waiting.length > KV_EVENT_SUBSCRIBER_DEFAULTS.maxWaiting) this.#waiting.shift();
      return;
    }
    const expected = this.#expected;
    if (expected === undefined || message.seq === expected) {
      if (expected === undefined && message.seq > 0n) {
        // Joined a running engine: its earlier batches are its cache's history.
        this.#waiting.push(message);
        await this.#resync(0n, 'restart', false);
        return;
      }
      this.#apply(message);
      return;
    }
    this.#waiting.push(message);
    if (message.seq > expected) await this.#resync(expected, 'replayed', false);
    else await this.#resync(0n, 'restart', true);
  }

  /**
   * Replays from `from`, then applies waiting live batches in order. `fresh` clears the index first (the
   * engine restarted, or the gateway starts).
   */
  async #resync(from: bigint, outcome: ResyncOutcome, fresh: boolean): Promise<void> {
    if (this.#replaying) return;
    this.#replaying = true;
    this.#replays++;
    try {
      const replayed = await this.#replay(from);
      if (fresh) {
        this.#options.index.clear();
        this.#expected = undefined;
        this.#exact = true;
        if (outcome === 'restart' && this.#batches > 0) this.#restarts++;
      }
      const got = [...(replayed ?? []), ...this.#waiting.splice(0)].sort((a, b) => (a.seq < b.seq ? -1 : a.seq > b.seq ? 1 : 0));
      let gapFilled = true;
      for (const message of got) {
        const expected = this.#expected ?? from;
        if (message.seq < expected) continue;
        if (message.seq > expected) {
          gapFilled = false;
          if (this.#exact) this.#markLost(message.seq);
        }
        this.#apply(message);
      }
      this.#options.onResync?.(gapFilled ? outcome : 'lost');
      if (gapFilled && replayed !== undefined && replayed.length > 0) {
        this.#log(`KV events from ${this.#options.endpoint}: ${outcome === 'restart' ? 'rebuilt from' : 'replayed'} ${replayed.length} batch(es) from ${from}`);
      }
    } finally {
      this.#replaying = false;
    }
    // Batches that arrived while the waiting list was applied.
    if (this.#waiting.length > 0) await this.#receive(this.#waiting.shift()!);
  }

  /** Missing batches for good: what the index holds is incomplete until the engine clears its cache. */
  #markLost(at: bigint): void {
    this.#lost++;
    this.#exact = false;
    this.#options.index.clear();
    this.#log(
      `KV events from ${this.#options.endpoint}: batches before ${at} are lost (${this.#dealer ? 'the engine no longer buffers them' : 'no replay endpoint'}); the index starts over and may miss blocks stored earlier`,
    );
  }

  /** The engine's buffered batches from `from` on; undefined when there is no replay socket or no answer. */
  async #replay(from: bigint): Promise<Message[] | undefined> {
    const dealer = this.#dealer;
    if (!dealer) return undefined;
    const start = Buffer.alloc(8);
    start.writeBigUInt64BE(from);
    const messages: Message[] = [];
    try {
      await dealer.send(['', start]);
      for (;;) {
        const frames = await dealer.receive();
        // [empty delimiter, seq, payload]; seq -1 ends the replay.
        if (frames.length !== 3 || frames[1]!.length !== 8) continue;
        const seq = frames[1]!.readBigInt64BE();
        if (seq === -1n) return messages;
        messages.push({ seq: BigInt.asUintN(64, seq), payload: frames[2]! });
      }
    } catch (error) {
      if (this.#closed) return undefined;
      this.#log(`KV events from ${this.#options.endpoint}: replay from ${from} failed: ${(error as Error).message}`);
      // A late answer would arrive on the next request: start over with a new socket.
      dealer.close();
      this.#dealer = this.#newDealer();
      return undefined;
    }
  }

  #apply(message: Message): void {
    this.#expected = message.seq + 1n;
    this.#batches++;
    let events = 0;
    try {
      const batch = decodeKvEventBatch(message.payload);
      if (batch.events.some((event) => event.type === 'AllBlocksCleared')) this.#exact = true;
      this.#options.index.apply(batch.events);
      events = batch.events.length;
    } catch (error) {
      if (!(error instanceof KvEventFormatError)) throw error;
      this.#decodeErrors++;
      this.#log(`KV events from ${this.#options.endpoint}: batch ${message.seq} dropped: ${error.message}`);
    }
    this.#options.onApplied?.(message.seq, events);
    const waiters = this.#caughtUp.splice(0);
    for (const check of waiters) check();
  }
}

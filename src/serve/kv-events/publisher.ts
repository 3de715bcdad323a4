/**
 * The engine side of vLLM's KV event stream (its `ZmqEventPublisher`): every batch goes out on a ZMQ PUB
 * socket as three frames `[topic, seq (8-byte big-endian), msgpack payload]`, sequence numbers from 0,
 * and stays in a bounded replay buffer. A ZMQ ROUTER socket answers replay requests
 * `[identity, "", start seq]` with every buffered batch from that seq on, as `[identity, "", seq,
 * payload]`, then the end marker `[identity, "", -1 (8 bytes), ""]`. Like vLLM, an endpoint with `*` (or
 * `::`, ipc://, inproc://) is bound, any other is connected to.
 */
import type { Publisher, Router } from 'zeromq';
import { InputError } from '../../errors.js';
import { encodeKvEventBatch, type KvEvent, type KvEventFormat } from './wire.js';

export interface KvEventPublisherOptions {
  /** PUB endpoint, e.g. `tcp://*:5557`. */
  endpoint: string;
  /** ROUTER endpoint for replays, e.g. `tcp://*:5558` (none: no replay). */
  replayEndpoint?: string | undefined;
  /** Frame 0 of every message (vLLM's `topic`, default empty). */
  topic?: string;
  /** Batches kept for replay (vLLM's `buffer_steps`, default 10000). */
  bufferSteps?: number;
  /** PUB high-water mark in messages (vLLM's `hwm`, default 100000). */
  hwm?: number;
  format?: KvEventFormat;
  /** Told when a send or a replay fails (the stream goes on). */
  onError?: (message: string) => void;
}

export const KV_EVENT_PUBLISHER_DEFAULTS = { bufferSteps: 10_000, hwm: 100_000 };

/** The end-of-replay sequence number, -1 as a signed 8-byte integer. */
export const END_OF_REPLAY = Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);

export class KvEventPublisher {
  readonly #pub: Publisher;
  readonly #replay: Router | undefined;
  readonly #topic: Buffer;
  readonly #format: KvEventFormat;
  readonly #bufferSteps: number;
  readonly #onError: (message: string) => void;
  /** Replay buffer: the last `bufferSteps` batches, oldest first. */
  readonly #buffer: { seq: bigint; frame: Buffer; payload: Uint8Array }[] = [];
  /** Messages waiting for the PUB socket (zeromq sends one at a time). */
  readonly #outbox: Buffer[][] = [];
  #sending = false;
  #nextSeq = 0n;
  #closed = false;
  #idle: (() => void)[] = [];

  private constructor(pub: Publisher, replay: Router | undefined, options: KvEventPublisherOptions) {
    this.#pub = pub;
    this.#replay = replay;
    this.#topic = Buffer.from(options.topic ?? '', 'utf8');
    this.#format = options.format ?? 'map';
    this.#bufferSteps = options.bufferSteps ?? KV_EVENT_PUBLISHER_DEFAULTS.bufferSteps;
    this.#onError = options.onError ?? (() => {});
    if (replay) void this.#serveReplays(replay);
  }

  /** Opens the sockets (bound or connected); rejects naming the endpoint when that fails. */
  static async open(options: KvEventPublisherOptions): Promise<KvEventPublisher> {
    // Loaded here, so engines without KV events never load the native ZMQ addon.
    const { Publisher, Router } = await import('zeromq');
    const pub = new Publisher({ sendHighWaterMark: options.hwm ?? KV_EVENT_PUBLISHER_DEFAULTS.hwm, linger: 0 });
    let replay: Router | undefined;
    try {
      await attach(pub, options.endpoint);
      if (options.replayEndpoint !== undefined) {
        replay = new Router({ linger: 0 });
        await replay.bind(options.replayEndpoint);
      }
    } catch (error) {
      pub.close();
      replay?.close();
      // Taken ports and bad addresses are the user's to fix: one line naming the endpoint, exit 2.
      throw new InputError(`KV events: cannot open ${replay ? options.replayEndpoint : options.endpoint}: ${(error as Error).message}`);
    }
    return new KvEventPublisher(pub, replay, options);
  }

  /** The PUB endpoint as bound (a `*` port resolved), or as given when connected. */
  get endpoint(): string {
    return this.#pub.lastEndpoint ?? '';
  }

  get replayEndpoint(): string | undefined {
    return this.#replay?.lastEndpoint ?? undefined;
  }

  /** Sequence number the next batch gets (batches published so far). */
  get nextSeq(): bigint {
    return this.#nextSeq;
  }

  /** Publishes one batch (nothing for no events): sequence number, encode, buffer, send in order. */
  publish(events: KvEvent[], ts = Date.now() / 1000): void {
    if (this.#closed || events.length === 0) return;
    const seq = this.#nextSeq++;
    const frame = Buffer.alloc(8);
    frame.writeBigUInt64BE(seq);
    const payload = encodeKvEventBatch({ ts, events, dataParallelRank: 0 }, this.#format);
    this.#buffer.push({ seq, frame, payload });
    if (this.#buffer.length > this.#bufferSteps) this.#buffer.shift();
    this.#outbox.push([this.#topic, frame, Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength)]);
    if (!this.#sending) void this.#drain();
  }

  /** Resolves once every published batch has been handed to the PUB socket. */
  flushed(): Promise<void> {
    if (!this.#sending && this.#outbox.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#pub.close();
    this.#replay?.close();
    for (const resolve of this.#idle.splice(0)) resolve();
  }

  async #drain(): Promise<void> {
    this.#sending = true;
    try {
      while (this.#outbox.length > 0 && !this.#closed) {
        const message = this.#outbox.shift()!;
        try {
          await this.#pub.send(message);
        } catch (error) {
          if (this.#closed) break;
          this.#onError(`KV event batch ${message[1]!.readBigUInt64BE()} not sent: ${(error as Error).message}`);
        }
      }
    } finally {
      this.#sending = false;
      for (const resolve of this.#idle.splice(0)) resolve();
    }
  }

  async #serveReplays(router: Router): Promise<void> {
    try {
      for await (const frames of router) {
        if (frames.length !== 3 || frames[2]!.length !== 8) {
          this.#onError(`invalid KV event replay request (${frames.length} frames)`);
          continue;
        }
        const [identity, , start] = frames as [Buffer, Buffer, Buffer];
        const from = start.readBigUInt64BE();
        // A snapshot: batches published while replaying are live on PUB, and the subscriber asks again for gaps.
        for (const { seq, frame, payload } of [...this.#buffer]) {
          if (seq >= from) await router.send([identity, '', frame, payload]);
        }
        await router.send([identity, '', END_OF_REPLAY, '']);
      }
    } catch (error) {
      if (!this.#closed) this.#onError(`KV event replay socket failed: ${(error as Error).message}`);
    }
  }
}

/** Binds wildcard and local-transport endpoints, connects to any other (vLLM's rule). */
async function attach(pub: Publisher, endpoint: string): Promise<void> {
  if (endpoint.includes('*') || endpoint.includes('::') || endpoint.startsWith('ipc://') || endpoint.startsWith('inproc://')) {
    await pub.bind(endpoint);
  } else {
    pub.connect(endpoint);
  }
}

/**
 * vLLM KV events: the wire format (both encodings vLLM has used), the gateway's exact block index, and
 * the ZMQ publisher/subscriber pair with its replay socket, over real TCP sockets.
 */
import { encode } from '@msgpack/msgpack';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { Publisher, Router } from 'zeromq';
import { hashTokenBlocks } from '../../src/native.js';
import { saltSeed } from '../../src/serve/http/prompt-tokens.js';
import { KvBlockIndex } from '../../src/serve/kv-events/kv-block-index.js';
import { parseVllmKvEventsConfig, parseZmqEndpoint } from '../../src/serve/kv-events/kv-events-config.js';
import { END_OF_REPLAY, KvEventPublisher } from '../../src/serve/kv-events/publisher.js';
import { KvEventSubscriber } from '../../src/serve/kv-events/subscriber.js';
import { decodeKvEventBatch, encodeKvEventBatch, KvEventFormatError, type BlockStored, type KvEvent } from '../../src/serve/kv-events/wire.js';
import { pairKvEventFeeds } from '../../src/cli/gateway.js';
import { expectUsageError, kvflow } from '../helpers/cli.js';

const BS = 4;

function stored(hashes: number[], parent: number | null, tokens: number[], extraKeys: (unknown[] | null)[] | null = null): BlockStored {
  return {
    type: 'BlockStored',
    blockHashes: hashes.map(BigInt),
    parentBlockHash: parent === null ? null : BigInt(parent),
    tokenIds: Int32Array.from(tokens),
    blockSize: BS,
    medium: 'GPU',
    extraKeys,
    groupIdx: 0,
  };
}

const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);

describe('KV event wire format', () => {
  const events: KvEvent[] = [
    stored([11, 12], null, range(1, 8), [['salt'], null]),
    { type: 'BlockRemoved', blockHashes: [11n, 2n ** 63n + 5n], medium: 'GPU', groupIdx: 0 },
    { type: 'AllBlocksCleared' },
  ];

  it('round-trips a batch in the map and the array encodings', () => {
    for (const format of ['map', 'array'] as const) {
      const batch = decodeKvEventBatch(encodeKvEventBatch({ ts: 1700000000, events, dataParallelRank: 0 }, format));
      expect(batch.ts).toBe(1700000000);
      expect(batch.dataParallelRank).toBe(0);
      expect(batch.events.map((e) => e.type)).toEqual(['BlockStored', 'BlockRemoved', 'AllBlocksCleared']);
      const first = batch.events[0] as BlockStored;
      expect(first.blockHashes).toEqual([11n, 12n]);
      expect([...first.tokenIds]).toEqual(range(1, 8));
      expect(first.parentBlockHash).toBeNull();
      if (format === 'map') expect(first.extraKeys).toEqual([['salt'], null]);
      expect((batch.events[1] as { blockHashes: bigint[] }).blockHashes).toEqual([11n, 2n ** 63n + 5n]);
    }
  });

  it('writes ts as a float64 even when whole, and the batch as [ts, events, rank]', () => {
    const bytes = encodeKvEventBatch({ ts: 5, events: [], dataParallelRank: 0 });
    expect([...bytes.subarray(0, 2)]).toEqual([0x93, 0xcb]);
    expect(decodeKvEventBatch(bytes)).toEqual({ ts: 5, events: [], dataParallelRank: 0 });
  });

  it("decodes a batch shaped like current vLLM's (tagged maps, extra fields, bytes hashes, no rank)", () => {
    const payload = encode([
      1789095808.8378847,
      [
        {
          type: 'BlockStored',
          block_hashes: [new Uint8Array([9, 9, 0, 0, 0, 0, 0, 0, 0, 7])],
          parent_block_hash: null,
          token_ids: range(100, 4),
          block_size: 4,
          lora_id: null,
          medium: 'GPU',
          lora_name: null,
          extra_keys: [null],
          group_idx: 0,
          kv_cache_spec_kind: 'full_attention',
          some_future_field: { x: 1 },
        },
        { type: 'SomeFutureEvent', x: 1 },
      ],
    ]);
    const batch = decodeKvEventBatch(payload);
    expect(batch.dataParallelRank).toBeNull();
    expect(batch.events).toHaveLength(1);
    expect((batch.events[0] as BlockStored).blockHashes).toEqual([7n]);
  });

  it('refuses payloads that are not batches, naming the field', () => {
    const bad: [unknown, RegExp][] = [
      [{ ts: 1 }, /array \[ts, events/],
      [[1, 'x'], /events: expected an array/],
      [[1, [{ type: 'BlockStored', block_hashes: [1], token_ids: [1, 2], block_size: 4 }]], /2 tokens for 1 blocks of 4/],
      [[1, [{ type: 'BlockStored', block_hashes: [1], token_ids: [1, 2, 3, -4], block_size: 4 }]], /token_ids\[3\]: expected a token id/],
      [[1, [{ type: 'BlockRemoved', block_hashes: ['a'] }]], /block_hashes\[0\]: expected an integer or bytes/],
      [[1, [42]], /expected a tagged map or array/],
    ];
    for (const [value, message] of bad) expect(() => decodeKvEventBatch(encode(value))).toThrow(message);
    expect(() => decodeKvEventBatch(new Uint8Array([0xc1]))).toThrow(KvEventFormatError);
  });
});

describe('exact block index', () => {
  it("names stored blocks with the gateway's own block ids, across events and with a salt", () => {
    const tokens = range(7, 5 * BS);
    const pages: [number, boolean][] = [];
    const index = new KvBlockIndex({ blockSize: BS, onPage: (block, present) => pages.push([block, present]) });
    // The engine's hashes are opaque: any distinct numbers.
    index.apply([stored([901, 902], null, tokens.slice(0, 2 * BS)), stored([903, 904, 905], 902, tokens.slice(2 * BS))]);
    const ids = hashTokenBlocks(Int32Array.from(tokens), BS);
    expect(index.blockIds()).toEqual([...ids].sort((a, b) => a - b));
    expect(index.match(ids)).toBe(5);
    expect(index.match([...ids.slice(0, 3), 1, ids[4]!])).toBe(3);

    index.apply([stored([77], null, tokens.slice(0, BS), [['tenant-a']])]);
    const salted = hashTokenBlocks(Int32Array.from(tokens.slice(0, BS)), BS, saltSeed('tenant-a'));
    expect(index.match(salted)).toBe(1);

    index.apply([{ type: 'BlockRemoved', blockHashes: [903n], medium: 'GPU', groupIdx: 0 }]);
    expect(index.match(ids)).toBe(2);
    expect(pages.filter(([, present]) => !present).map(([block]) => block)).toEqual([ids[2]]);
    index.apply([{ type: 'AllBlocksCleared' }]);
    expect(index.size).toBe(0);
    expect(index.stats()).toMatchObject({ stored: 6, removed: 1, clears: 1 });
  });

  it('leaves out what it cannot place: unknown parents, other block sizes, CPU and other groups', () => {
    const warnings: string[] = [];
    const index = new KvBlockIndex({ blockSize: BS, warn: (line) => warnings.push(line) });
    index.apply([
      stored([1], 999, range(0, BS)),
      { ...stored([2], null, range(0, 8)), blockSize: 8 },
      { ...stored([3], null, range(0, BS)), medium: 'CPU' },
      { ...stored([4], null, range(0, BS)), groupIdx: 1 },
    ]);
    expect(index.size).toBe(0);
    expect(index.stats()).toMatchObject({ unresolved: 2, ignored: 2 });
    expect(warnings).toEqual([expect.stringContaining('--block-size is 4')]);
  });

  it('holds exactly the blocks stored and not removed, for random event sequences', () => {
    // A model engine: prompts are chains over a small token alphabet; it stores and removes whole suffixes.
    fc.assert(
      fc.property(
        fc.array(fc.record({ prompt: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: BS, maxLength: 4 * BS }), keep: fc.nat(4) }), {
          minLength: 1,
          maxLength: 12,
        }),
        (steps) => {
          const index = new KvBlockIndex({ blockSize: BS });
          const held = new Map<number, number>(); // gateway id -> engine hash
          let nextHash = 1;
          const hashOfId = new Map<number, number>();
          for (const { prompt, keep } of steps) {
            const full = Math.floor(prompt.length / BS);
            const ids = hashTokenBlocks(Int32Array.from(prompt.slice(0, full * BS)), BS);
            let first = 0;
            while (first < full && held.has(ids[first]!)) first++;
            if (first < full) {
              const hashes = ids.slice(first).map((id) => hashOfId.get(id) ?? (hashOfId.set(id, nextHash++), hashOfId.get(id)!));
              const parent = first === 0 ? null : held.get(ids[first - 1]!)!;
              index.apply([stored(hashes, parent, prompt.slice(first * BS, full * BS))]);
              ids.slice(first).forEach((id, i) => held.set(id, hashes[i]!));
            }
            // Evict the chain's tail beyond `keep` blocks (leaves first, as a radix cache does).
            const removed = ids.slice(Math.min(keep, full)).reverse().filter((id) => held.has(id));
            index.apply([{ type: 'BlockRemoved', blockHashes: removed.map((id) => BigInt(held.get(id)!)), medium: null, groupIdx: null }]);
            for (const id of removed) held.delete(id);
          }
          expect(index.blockIds()).toEqual([...held.keys()].sort((a, b) => a - b));
        },
      ),
    );
  });
});

describe('KV event settings', () => {
  it("reads vLLM's --kv-events-config and ZMQ endpoints, refusing bad ones by flag", () => {
    expect(parseVllmKvEventsConfig('{"enable_kv_cache_events":true,"publisher":"zmq","topic":"kv@p@m","replay_endpoint":"tcp://*:5558"}')).toEqual({
      endpoint: 'tcp://*:5557',
      replayEndpoint: 'tcp://*:5558',
      topic: 'kv@p@m',
      bufferSteps: 10_000,
      hwm: 100_000,
    });
    expect(parseVllmKvEventsConfig('{"enable_kv_cache_events":false}')).toBeUndefined();
    expect(() => parseVllmKvEventsConfig('{"endpont":"tcp://*:1"}')).toThrow(/--kv-events-config: .*endpont/);
    expect(() => parseVllmKvEventsConfig('{')).toThrow(/--kv-events-config: not JSON/);
    expect(parseZmqEndpoint('tcp://10.0.0.5:5557', '--kv-events')).toBe('tcp://10.0.0.5:5557');
    expect(() => parseZmqEndpoint('http://x:1', '--kv-events')).toThrow(/^--kv-events: "http:\/\/x:1" is not a ZMQ endpoint/);
    expect(() => parseZmqEndpoint('tcp://x:70000', '--kv-events')).toThrow(/port out of range/);
  });

  it('refuses bad endpoints and taken ports on the command line: one line, exit 2', async () => {
    const taken = await KvEventPublisher.open({ endpoint: 'tcp://127.0.0.1:*' });
    try {
      const [engineFlag, gatewayFlag, bind] = await Promise.all([
        kvflow(['engine', '--kv-events', 'http://x:1']),
        kvflow(['gateway', '--upstream', 'http://127.0.0.1:9', '--kv-events', 'http://127.0.0.2:9=tcp://x:1']),
        kvflow(['engine', '--port', '0', '--kv-events', taken.endpoint.replace('127.0.0.1', '*')]),
      ]);
      expectUsageError(engineFlag, '--kv-events', /is not a ZMQ endpoint/);
      expectUsageError(gatewayFlag, '--kv-events', /not one of the --upstream URLs/);
      expectUsageError(bind, /KV events: cannot open tcp:\/\/\*:\d+: .*in use/i);
    } finally {
      taken.close();
    }
  }, 120_000);

  it('pairs gateway feeds with upstreams by URL or in order', () => {
    const urls = ['http://a:1', 'http://b:2'];
    expect(pairKvEventFeeds(urls, ['http://b:2/=tcp://b:5557'], ['http://b:2=tcp://b:5558'])).toEqual([
      { upstream: 1, endpoint: 'tcp://b:5557', replayEndpoint: 'tcp://b:5558' },
    ]);
    expect(pairKvEventFeeds(urls, ['tcp://a:1', 'tcp://b:1'], []).map((f) => f.upstream)).toEqual([0, 1]);
    expect(() => pairKvEventFeeds(urls, ['tcp://a:1'], [])).toThrow(/^--kv-events: without upstream=/);
    expect(() => pairKvEventFeeds(urls, ['http://c:3=tcp://a:1'], [])).toThrow(/not one of the --upstream URLs/);
    expect(() => pairKvEventFeeds(urls, [], ['http://a:1=tcp://a:2'])).toThrow(/^--kv-events-replay: .*no --kv-events/);
  });
});

describe('ZMQ publisher and subscriber', () => {
  const closers: (() => unknown)[] = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });

  const until = async (what: () => boolean, ms = 5_000) => {
    const end = Date.now() + ms;
    while (!what()) {
      if (Date.now() > end) throw new Error('timed out');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };

  it('a late subscriber rebuilds the index from the replay socket, then follows the live stream', async () => {
    const publisher = await KvEventPublisher.open({ endpoint: 'tcp://127.0.0.1:*', replayEndpoint: 'tcp://127.0.0.1:*', topic: 'kv@e1@m' });
    closers.push(() => publisher.close());
    const tokens = range(1, 3 * BS);
    publisher.publish([stored([1], null, tokens.slice(0, BS))]);
    publisher.publish([stored([2], 1, tokens.slice(BS, 2 * BS))]);
    await publisher.flushed();
    const index = new KvBlockIndex({ blockSize: BS });
    const subscriber = await KvEventSubscriber.open({ endpoint: publisher.endpoint, replayEndpoint: publisher.replayEndpoint, topic: 'kv@', index });
    closers.push(() => subscriber.close());
    await subscriber.catchUp();
    expect(index.size).toBe(2);
    // Live batches reach it once the subscription is up: publish until one does.
    for (let i = 0; index.size < 3; i++) {
      publisher.publish(i === 0 ? [stored([3], 2, tokens.slice(2 * BS))] : [{ type: 'BlockRemoved', blockHashes: [99n], medium: 'GPU', groupIdx: 0 }]);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await subscriber.applied(publisher.nextSeq - 1n);
    expect(index.match(hashTokenBlocks(Int32Array.from(tokens), BS))).toBe(3);
    expect(subscriber.state()).toMatchObject({ exact: true, lost: 0, lastSeq: String(publisher.nextSeq - 1n) });
  });

  it('fills a dropped batch from the replay socket, and rebuilds when the engine restarts', async () => {
    // A publisher that drops batch 1 on PUB (as a full high-water mark does) but keeps it for replay.
    const pub = new Publisher({ linger: 0 });
    await pub.bind('tcp://127.0.0.1:*');
    const router = new Router({ linger: 0 });
    await router.bind('tcp://127.0.0.1:*');
    closers.push(() => pub.close(), () => router.close());
    const tokens = range(50, 3 * BS);
    let buffer: Buffer[] = [stored([1], null, tokens.slice(0, BS)), stored([2], 1, tokens.slice(BS, 2 * BS)), stored([3], 2, tokens.slice(2 * BS))].map((event) =>
      Buffer.from(encodeKvEventBatch({ ts: 1, events: [event], dataParallelRank: 0 })),
    );
    const seq = (n: number) => {
      const b = Buffer.alloc(8);
      b.writeBigUInt64BE(BigInt(n));
      return b;
    };
    let replayRequests = 0;
    void (async () => {
      for await (const [identity, , start] of router) {
        replayRequests++;
        const from = Number(start!.readBigUInt64BE());
        for (let n = from; n < buffer.length; n++) await router.send([identity!, '', seq(n), buffer[n]!]);
        await router.send([identity!, '', END_OF_REPLAY, '']);
      }
    })().catch(() => {});
    const index = new KvBlockIndex({ blockSize: BS });
    const resyncs: string[] = [];
    const subscriber = await KvEventSubscriber.open({
      endpoint: pub.lastEndpoint!,
      replayEndpoint: router.lastEndpoint!,
      index,
      onResync: (outcome) => resyncs.push(outcome),
    });
    closers.push(() => subscriber.close());
    // Batch 0 until the subscription is up (a repeat of 0 is a duplicate once applied), then 2 without 1.
    while (subscriber.state().lastSeq === null) {
      await pub.send(['', seq(0), buffer[0]!]);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await pub.send(['', seq(2), buffer[2]!]);
    await subscriber.applied(2n);
    expect(index.match(hashTokenBlocks(Int32Array.from(tokens), BS))).toBe(3);
    expect(resyncs).toContain('replayed');
    expect(replayRequests).toBeGreaterThanOrEqual(1);

    // The engine restarts: sequence numbers from 0 again, and an empty cache but for its first batch.
    buffer = [Buffer.from(encodeKvEventBatch({ ts: 2, events: [stored([7], null, range(900, BS))], dataParallelRank: 0 }))];
    await pub.send(['', seq(0), buffer[0]!]);
    await until(() => resyncs.includes('restart'));
    expect(index.blockIds()).toEqual(hashTokenBlocks(Int32Array.from(range(900, BS)), BS));
    expect(subscriber.state()).toMatchObject({ exact: true, restarts: 1, lastSeq: '0' });
  });

  it('without a replay socket, a gap is lost: the index starts over and says it is not exact', async () => {
    const publisher = await KvEventPublisher.open({ endpoint: 'tcp://127.0.0.1:*' });
    closers.push(() => publisher.close());
    // Batch 0 goes out before anyone subscribes: PUB drops it, and nothing can replay it.
    publisher.publish([stored([99], null, range(500, BS))]);
    await publisher.flushed();
    const index = new KvBlockIndex({ blockSize: BS });
    const lines: string[] = [];
    const subscriber = await KvEventSubscriber.open({ endpoint: publisher.endpoint, index, log: (line) => lines.push(line) });
    closers.push(() => subscriber.close());
    for (let i = 0; subscriber.state().lastSeq === null; i++) {
      publisher.publish([stored([100 + i], null, range(i * BS, BS))]);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(subscriber.state()).toMatchObject({ exact: false, lost: 1 });
    expect(lines.join('\n')).toMatch(/lost \(no replay endpoint\)/);
    expect(index.size).toBe(1);
  });
});

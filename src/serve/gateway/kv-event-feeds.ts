/**
 * The gateway's KV event feeds: for each upstream that publishes vLLM KV events, a subscriber keeping an
 * exact index of its GPU blocks, which replaces that upstream's shadow tree in routing. Upstreams without
 * a feed keep their shadow trees.
 */
import { Counter, type Registry } from 'prom-client';
import { KvBlockIndex } from '../kv-events/kv-block-index.js';
import { KvEventSubscriber } from '../kv-events/subscriber.js';

export interface KvEventFeedSpec {
  /** Position of the upstream in the gateway's list. */
  upstream: number;
  /** The engine's PUB endpoint, e.g. tcp://10.0.0.5:5557. */
  endpoint: string;
  /** Its replay (ROUTER) endpoint, if it has one. */
  replayEndpoint?: string | undefined;
}

export interface KvEventFeedOptions {
  blockSize: number;
  /** Subscription prefix (default: all topics). */
  topic?: string | undefined;
  /** Upstream URLs by position (metric labels, log lines). */
  urls: readonly string[];
  /** Told of each upstream's blocks entering and leaving its index (the gateway's prefix index). */
  onPage?: (upstream: number, block: number, present: boolean) => void;
  registry: Registry;
  logLine: (line: string) => void;
  replayTimeoutMs?: number;
}

export interface KvEventFeed {
  readonly index: KvBlockIndex;
  readonly subscriber: KvEventSubscriber;
}

/** Opens one feed per spec and starts catching up with what each engine already holds. */
export async function startKvEventFeeds(specs: readonly KvEventFeedSpec[], options: KvEventFeedOptions): Promise<Map<number, KvEventFeed>> {
  const feeds = new Map<number, KvEventFeed>();
  if (specs.length === 0) return feeds;
  const registers = [options.registry];
  const batches = new Counter({
    name: 'kvflow_gateway_kv_event_batches_total',
    help: 'KV event batches applied to an upstream\'s exact block index',
    labelNames: ['upstream'],
    registers,
  });
  const resyncs = new Counter({
    name: 'kvflow_gateway_kv_event_resyncs_total',
    help: 'KV event stream resynchronisations (replayed: a gap filled from the replay socket; restart: the engine restarted; lost: batches missing for good)',
    labelNames: ['upstream', 'outcome'],
    registers,
  });
  for (const spec of specs) {
    const url = options.urls[spec.upstream]!;
    const log = (line: string) => options.logLine(`kvflow gateway: upstream ${url}: ${line}`);
    const onPage = options.onPage;
    const index = new KvBlockIndex({
      blockSize: options.blockSize,
      ...(onPage && { onPage: (block: number, present: boolean) => onPage(spec.upstream, block, present) }),
      warn: log,
    });
    const subscriber = await KvEventSubscriber.open({
      endpoint: spec.endpoint,
      replayEndpoint: spec.replayEndpoint,
      ...(options.topic !== undefined && { topic: options.topic }),
      index,
      log,
      ...(options.replayTimeoutMs !== undefined && { replayTimeoutMs: options.replayTimeoutMs }),
      onApplied: () => batches.inc({ upstream: url }),
      onResync: (outcome) => resyncs.inc({ upstream: url, outcome }),
    });
    void subscriber.catchUp();
    feeds.set(spec.upstream, { index, subscriber });
  }
  return feeds;
}

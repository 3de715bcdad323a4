/**
 * The gateway's Prometheus metrics (prom-client), in a registry of its own so several gateways can live
 * in one process (tests, `emulate --compare`). Gauges about upstreams are read at scrape time.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Upstream } from './upstream.js';

/** Request latencies from 1 ms to 5 min. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
/** Routing decisions from 1 us to 10 ms. */
const DECISION_BUCKETS = [1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 1e-3, 1e-2];

export class GatewayMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'endpoint' | 'status' | 'upstream'>;
  readonly duration: Histogram<'endpoint'>;
  readonly firstByte: Histogram<'endpoint'>;
  readonly decisions: Counter<'upstream' | 'reason'>;
  readonly decisionSeconds: Histogram;
  readonly promptTokens: Counter;
  readonly predictedHitTokens: Counter<'upstream'>;
  readonly upstreamErrors: Counter<'upstream' | 'kind'>;
  readonly retries: Counter;
  readonly clientDisconnects: Counter;
  readonly steUpdates: Counter<'upstream' | 'outcome'>;

  constructor(upstreams: readonly Upstream[]) {
    const registers = [this.registry];
    this.requests = new Counter({
      name: 'kvflow_gateway_requests_total',
      help: 'Requests answered, by endpoint, HTTP status and upstream ("none" when no upstream was reached)',
      labelNames: ['endpoint', 'status', 'upstream'],
      registers,
    });
    this.duration = new Histogram({
      name: 'kvflow_gateway_request_duration_seconds',
      help: 'Time from receiving a request to the end of its response',
      labelNames: ['endpoint'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.firstByte = new Histogram({
      name: 'kvflow_gateway_first_byte_seconds',
      help: 'Time from receiving a request to the first response byte from the upstream (TTFT for streams)',
      labelNames: ['endpoint'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.decisions = new Counter({
      name: 'kvflow_gateway_routing_decisions_total',
      help: 'Routing decisions by chosen upstream and reason (cache: best prefix; balance: load bound; miss: no prefix)',
      labelNames: ['upstream', 'reason'],
      registers,
    });
    this.decisionSeconds = new Histogram({
      name: 'kvflow_gateway_routing_decision_seconds',
      help: 'Time to choose an upstream for a tokenized prompt',
      buckets: DECISION_BUCKETS,
      registers,
    });
    this.promptTokens = new Counter({ name: 'kvflow_gateway_prompt_tokens_total', help: 'Prompt tokens routed', registers });
    this.predictedHitTokens = new Counter({
      name: 'kvflow_gateway_predicted_hit_tokens_total',
      help: 'Prompt tokens the chosen upstream was expected to hold in its prefix cache (shadow tree)',
      labelNames: ['upstream'],
      registers,
    });
    this.upstreamErrors = new Counter({
      name: 'kvflow_gateway_upstream_errors_total',
      help: 'Upstream failures by kind: connect, timeout, reset (before a response), stream (mid-response)',
      labelNames: ['upstream', 'kind'],
      registers,
    });
    this.retries = new Counter({ name: 'kvflow_gateway_retries_total', help: 'Requests sent to another upstream after a connect failure', registers });
    this.clientDisconnects = new Counter({
      name: 'kvflow_gateway_client_disconnects_total',
      help: 'Clients that went away before their response ended (the upstream request is aborted)',
      registers,
    });
    this.steUpdates = new Counter({
      name: 'kvflow_gateway_ste_updates_total',
      help: 'STE push attempts to upstreams (KVFlow /v1/update), by outcome: ok, error (2xx saying status error), rejected (other HTTP status), failed (no answer)',
      labelNames: ['upstream', 'outcome'],
      registers,
    });
    const perUpstream = (name: string, help: string, read: (upstream: Upstream) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['upstream'],
        registers,
        collect() {
          for (const upstream of upstreams) this.set({ upstream: upstream.url }, read(upstream));
        },
      });
    perUpstream('kvflow_gateway_inflight_requests', 'Requests in flight per upstream', (u) => u.load);
    perUpstream('kvflow_gateway_shadow_pages', 'Pages in the shadow prefix tree per upstream', (u) => u.shadow.pages);
    perUpstream('kvflow_gateway_shadow_locked_pages', 'Shadow-tree pages locked by in-flight requests per upstream', (u) => u.shadow.lockedPages);
    perUpstream('kvflow_gateway_upstream_up', '1 when the upstream is in routing, 0 while cooling down after a connect failure', (u) =>
      u.isUp(Date.now()) ? 1 : 0,
    );
  }
}

/**
 * The keep-alive race: an upstream closes an idle connection just as the gateway writes the next request
 * on it (its keep-alive timer fired while the gateway's event loop lagged). Nothing reached the upstream's
 * application, so the gateway sends the request again, once, on a fresh connection, instead of answering
 * 502. A raw TCP upstream plays the race deterministically: it answers the first request of a connection
 * with keep-alive and drops the connection (RST) when the next request's bytes arrive.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { GATEWAY_DEFAULTS, startGateway, type GatewayServer } from '../../src/serve/gateway/gateway-server.js';
import { metricValue } from '../helpers/metrics.js';

const MODEL = 'Llama-3.1-8B';
const ANSWER = JSON.stringify({
  id: 'chatcmpl-1',
  object: 'chat.completion',
  created: 0,
  model: MODEL,
  choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
});

interface RacyUpstream {
  url: string;
  server: Server;
  /** Requests answered, and connections dropped on a request's arrival (health probes not counted). */
  answered: number;
  dropped: number;
  /** Requests that were the first on their connection. */
  connections: number;
}

/**
 * `answersPerConnection` requests are answered on each connection (with `keep-alive: timeout=60`), and
 * the next one to arrive on it is met with a reset. 0: every request is reset.
 */
async function racyUpstream(answersPerConnection: number): Promise<RacyUpstream> {
  const upstream = { url: '', server: undefined as unknown as Server, answered: 0, dropped: 0, connections: 0 };
  const sockets = new Set<Socket>();
  upstream.server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let buffered = '';
    let answered = 0;
    let seen = false;
    socket.on('data', (chunk) => {
      buffered += chunk.toString('latin1');
      for (;;) {
        const headEnd = buffered.indexOf('\r\n\r\n');
        if (headEnd < 0) return;
        const length = Number(/content-length:\s*(\d+)/i.exec(buffered.slice(0, headEnd))?.[1] ?? 0);
        if (buffered.length < headEnd + 4 + length) return;
        const isPost = buffered.startsWith('POST ');
        buffered = buffered.slice(headEnd + 4 + length);
        if (!isPost) {
          // The gateway's health probe: answered on a connection of its own, and not counted.
          socket.end(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}`);
          return;
        }
        if (!seen) upstream.connections++;
        seen = true;
        if (answered === answersPerConnection) {
          upstream.dropped++;
          socket.resetAndDestroy();
          return;
        }
        answered++;
        upstream.answered++;
        socket.write(
          `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(ANSWER)}\r\n` +
            `connection: keep-alive\r\nkeep-alive: timeout=60\r\n\r\n${ANSWER}`,
        );
      }
    });
  });
  upstream.server.on('close', () => sockets.forEach((s) => s.destroy()));
  await new Promise<void>((resolve) => upstream.server.listen(0, '127.0.0.1', resolve));
  upstream.url = `http://127.0.0.1:${(upstream.server.address() as AddressInfo).port}`;
  const close = upstream.server.close.bind(upstream.server);
  upstream.server.close = ((callback?: (error?: Error) => void) => {
    sockets.forEach((s) => s.destroy());
    return close(callback);
  }) as Server['close'];
  return upstream;
}

async function chat(gateway: GatewayServer, user: string): Promise<{ status: number; body: any }> {
  const response = await fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL, max_tokens: 1, messages: [{ role: 'user', content: user }] }),
    signal: AbortSignal.timeout(10_000),
  });
  return { status: response.status, body: await response.json() };
}

describe('gateway: an upstream connection that drops before any answer', () => {
  const open: { close(): Promise<void> }[] = [];
  afterEach(async () => {
    while (open.length > 0) await open.pop()!.close();
  });

  async function setUp(answersPerConnection: number) {
    const upstream = await racyUpstream(answersPerConnection);
    open.push({ close: () => new Promise<void>((resolve) => upstream.server.close(() => resolve())) });
    // One connection, so the second request must reuse the first one's.
    const gateway = await startGateway({ ...GATEWAY_DEFAULTS, upstreams: [{ url: upstream.url, kind: 'openai' }], models: [MODEL], connections: 1 });
    open.push(gateway);
    return { upstream, gateway };
  }

  it('is sent again on a fresh connection: the client gets the answer, not a 502', async () => {
    const { upstream, gateway } = await setUp(1);
    expect((await chat(gateway, 'first')).status).toBe(200);
    const second = await chat(gateway, 'second');
    expect(second.status).toBe(200);
    expect(second.body.choices[0].message.content).toBe('ok');
    expect(upstream).toMatchObject({ answered: 2, dropped: 1, connections: 2 });
    expect(await metricValue(gateway, 'kvflow_gateway_retries_total')).toBe(1);
    expect(await metricValue(gateway, 'kvflow_gateway_upstream_errors_total', { kind: 'reset' })).toBe(1);
    expect(await metricValue(gateway, 'kvflow_gateway_requests_total', { status: '200' })).toBe(2);
  });

  it('is sent again only once: an upstream that drops every request gets a 502 after two tries', async () => {
    const { upstream, gateway } = await setUp(0);
    const answer = await chat(gateway, 'doomed');
    expect(answer.status).toBe(502);
    expect(answer.body.error.type).toBe('upstream_error');
    expect(upstream).toMatchObject({ answered: 0, dropped: 2, connections: 2 });
    expect(await metricValue(gateway, 'kvflow_gateway_retries_total')).toBe(1);
    expect(await metricValue(gateway, 'kvflow_gateway_upstream_errors_total', { kind: 'reset' })).toBe(2);
    // The upstream is not taken out of routing: it did accept connections.
    expect((await chat(gateway, 'again')).status).toBe(502);
    expect(upstream.dropped).toBe(4);
  });
});

import type { ServerResponse } from 'node:http';

/** Headers of an OpenAI-style server-sent event stream. */
export const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  connection: 'keep-alive',
} as const;

/** Writes OpenAI-style SSE (`data: {json}\n\n`, closed by `data: [DONE]`) to a raw response. */
export class SseWriter {
  readonly #response: ServerResponse;
  #ended = false;

  constructor(response: ServerResponse, extraHeaders: Record<string, string> = {}) {
    this.#response = response;
    response.writeHead(200, { ...SSE_HEADERS, ...extraHeaders });
    response.flushHeaders();
  }

  /** True once the stream was ended by us or closed by the client. */
  get closed(): boolean {
    return this.#ended || this.#response.destroyed;
  }

  event(data: unknown): void {
    if (!this.closed) this.#response.write(`data: ${JSON.stringify(data)}\n\n`);
  }

  /** Sends `[DONE]` and ends the response. */
  done(): void {
    if (this.closed) return;
    this.#response.end('data: [DONE]\n\n');
    this.#ended = true;
  }
}

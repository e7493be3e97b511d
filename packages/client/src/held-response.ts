import type { Dispatcher } from 'undici';

type Headers = Record<string, string | string[] | undefined>;

/** Bytes of a held response's body kept for a possible replay; past this its connection pauses. */
const HOLD_LIMIT = 64 * 1024;

/**
 * A retryable response (a 503 with its body and headers) kept while its retry waits, so it
 * can still be the call's answer if the retry is refused before it is sent (an open breaker,
 * no endpoint left). Its body is kept up to 64 KiB; past that its connection is paused.
 * Made only when a retry follows a response, never on the common path.
 *
 * @internal
 */
export class HeldResponse {
  readonly controller: Dispatcher.DispatchController;
  readonly status: number;
  readonly headers: Headers;
  readonly statusText: string;
  chunks: Buffer[] = [];
  #bytes = 0;
  ended = false;
  failed = false;
  trailers: Headers | undefined;

  constructor(controller: Dispatcher.DispatchController, status: number, headers: Headers, statusText: string) {
    this.controller = controller;
    this.status = status;
    this.headers = headers;
    this.statusText = statusText;
  }

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.#bytes += chunk.length;
    if (this.#bytes > HOLD_LIMIT) this.controller.pause();
  }

  end(trailers: Headers): void {
    this.ended = true;
    this.trailers = trailers;
  }

  /** Gives the response up: a body still arriving would hold its connection, so it is cut. */
  drop(): void {
    this.chunks = [];
    if (!this.ended && !this.failed) this.controller.abort(new Error('retrying: response discarded'));
  }

  /**
   * Delivers the response to `handler` as if it had just arrived, under `controller`. False
   * when the consumer aborted it part way, or when the body is still arriving (resumed).
   */
  replay(handler: Dispatcher.DispatchHandler, controller: Dispatcher.DispatchController, stillCurrent: () => boolean): void {
    handler.onResponseStart?.(controller, this.status, this.headers, this.statusText);
    const chunks = this.chunks;
    this.chunks = [];
    for (const chunk of chunks) {
      if (!stillCurrent()) return; // aborted by the consumer mid-replay
      handler.onResponseData?.(controller, chunk);
    }
    if (!stillCurrent()) return;
    if (this.ended) handler.onResponseEnd?.(controller, this.trailers ?? {});
    else this.controller.resume();
  }
}

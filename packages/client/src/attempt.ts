import { HttpStatusError } from '@lifeline/core';
import { parseRetryAfter, rateLimitWaitMs, isTransientStatus } from '@lifeline/retry';
import type { Dispatcher } from 'undici';

/** What an attempt reports to: its call. Declared here so the call depends on the attempt, never the reverse. @internal */
export interface AttemptOwner {
  readonly service: string;
  /** Whether the call may be repeated (decides which statuses are transient). */
  readonly idempotent: boolean;
  /** The attempt's outcome for the breaker and the balancer: a status, or an error before one. */
  attemptOutcome(status: number, error: unknown): void;
  /** An undici error, as the Lifeline error that says whether a retry is safe. */
  classify(error: Error): unknown;
  /** This attempt's response is the call's answer. */
  commit(controller: Dispatcher.DispatchController, status: number, headers: Record<string, string | string[] | undefined>, statusText: string): void;
  data(chunk: Buffer): void;
  end(trailers: Record<string, string | string[] | undefined>): void;
  fail(error: unknown): void;
}

const PENDING = 0; // waiting for response headers
const HELD = 1; // a retryable status arrived; its (small) body is kept in case it is the final answer
const COMMITTED = 2; // the call's answer: everything is forwarded to the call
const DONE = 3; // finished, discarded or aborted: later callbacks are ignored

/** Bytes of a retryable response's body kept for a possible replay; past this the attempt pauses. */
const HOLD_LIMIT = 64 * 1024;

const kHeld = Symbol('lifeline.heldAttempt');

/** The attempt an error's response is held by, if the error (or its cause) came from one. @internal */
export function heldAttemptOf(error: unknown): Attempt | undefined {
  for (let e = error, i = 0; i < 2 && typeof e === 'object' && e !== null; i++) {
    const held = (e as { [kHeld]?: Attempt })[kHeld];
    if (held !== undefined) return held;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * One dispatch of a call: an undici handler that resolves its promise when a final
 * response starts and rejects it with a classified error otherwise. A retryable status
 * (503, 429...) rejects at once so the retry decision does not wait for the body, while the
 * body is kept: if no retry follows, the call replays this response as its answer.
 *
 * @internal
 */
export class Attempt implements Dispatcher.DispatchHandler {
  readonly promise: Promise<Attempt>;
  #resolve!: (attempt: Attempt) => void;
  #reject!: (error: unknown) => void;
  readonly #call: AttemptOwner;
  readonly #mayRetry: boolean;
  #state = PENDING;
  #controller: Dispatcher.DispatchController | null = null;
  #abortReason: Error | null = null;
  // Held response (only for a retryable status).
  #status = 0;
  #headers: Record<string, string | string[] | undefined> = {};
  #statusText = '';
  #chunks: Buffer[] | null = null;
  #held = 0;
  #ended = false;
  #trailers: Record<string, string | string[] | undefined> = {};
  #failed = false;

  constructor(call: AttemptOwner, mayRetry: boolean) {
    this.#call = call;
    this.#mayRetry = mayRetry;
    this.promise = new Promise<Attempt>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
  }

  /** Whether undici is still working on this attempt (sending, or delivering the call's answer). */
  get inFlight(): boolean {
    return this.#state === PENDING || this.#state === COMMITTED;
  }

  /** Whether this attempt holds a response that can still become the call's answer. */
  get held(): boolean {
    return this.#state === HELD && !this.#failed;
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#abortReason !== null) controller.abort(this.#abortReason);
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    status: number,
    headers: Record<string, string | string[] | undefined>,
    statusText?: string,
  ): void {
    if (this.#state !== PENDING) return;
    this.#controller = controller;
    this.#call.attemptOutcome(status, undefined);
    if (this.#mayRetry && isTransientStatus(status, this.#call)) {
      this.#state = HELD;
      this.#status = status;
      this.#headers = headers;
      this.#statusText = statusText ?? '';
      this.#chunks = [];
      const retryAfterMs = parseRetryAfter(headers['retry-after']) ?? rateLimitWaitMs(headers);
      const error = new HttpStatusError(status, headers, '', {
        service: this.#call.service,
        retryable: true,
        retryAfterMs,
      });
      Object.defineProperty(error, kHeld, { value: this });
      this.#reject(error);
      return;
    }
    this.#state = COMMITTED;
    this.#call.commit(controller, status, headers, statusText ?? '');
    this.#resolve(this);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#state === COMMITTED) {
      this.#call.data(chunk);
    } else if (this.#state === HELD) {
      this.#chunks!.push(chunk);
      this.#held += chunk.length;
      if (this.#held > HOLD_LIMIT) controller.pause();
    }
  }

  onResponseEnd(_controller: Dispatcher.DispatchController, trailers: Record<string, string | string[] | undefined>): void {
    if (this.#state === COMMITTED) {
      this.#state = DONE;
      this.#call.end(trailers);
    } else if (this.#state === HELD) {
      this.#ended = true;
      this.#trailers = trailers;
    }
  }

  onResponseError(_controller: Dispatcher.DispatchController | null, error: Error): void {
    const state = this.#state;
    if (state === PENDING) {
      this.#state = DONE;
      const classified = this.#call.classify(error);
      this.#call.attemptOutcome(0, classified);
      this.#reject(classified);
    } else if (state === COMMITTED) {
      this.#state = DONE;
      this.#call.fail(this.#call.classify(error));
    } else if (state === HELD) {
      this.#failed = true;
    }
  }

  /**
   * Ends this attempt now with `reason`, without waiting for undici to report back: a
   * deadline is met at the deadline, even when the request is still queued for a connection.
   */
  abort(reason: Error): void {
    const state = this.#state;
    if (state === DONE) return;
    this.#state = DONE;
    this.#abortReason = reason;
    this.#controller?.abort(reason);
    if (state === PENDING) {
      this.#call.attemptOutcome(0, reason);
      this.#reject(reason);
    }
    else if (state === COMMITTED) this.#call.fail(reason);
  }

  /** Drops a held response because a retry follows. */
  discard(): void {
    if (this.#state !== HELD) return;
    this.#state = DONE;
    this.#chunks = null;
    // A body still arriving would hold its connection; end it rather than read it for nothing.
    if (!this.#ended && !this.#failed) this.#controller?.abort(new Error('retrying: response discarded'));
  }

  /** Makes the held response the call's answer. False when there is none to replay. */
  replay(): boolean {
    if (this.#state !== HELD || this.#failed) return false;
    this.#state = COMMITTED;
    const controller = this.#controller!;
    this.#call.commit(controller, this.#status, this.#headers, this.#statusText);
    const chunks = this.#chunks!;
    this.#chunks = null;
    for (const chunk of chunks) {
      if (this.#state !== COMMITTED) return true; // aborted by the consumer mid-replay
      this.#call.data(chunk);
    }
    if (this.#state !== COMMITTED) return true;
    if (this.#ended) {
      this.#state = DONE;
      this.#call.end(this.#trailers);
    } else {
      controller.resume();
    }
    return true;
  }
}

import { Deadline, isLifelineError, LifelineError, withoutStack, type TimerTask } from '@lifeline/core';
import type { Endpoint } from '@lifeline/discovery';
import { currentRequestContext, newRequestId, parentContext, REQUEST_ID, type RequestContext } from '@lifeline/trace';
import type { Dispatcher } from 'undici';
import { CALL, type CallSettings, type CallState, type LifelineDispatchOptions, type StageOptions } from './call-settings.ts';
import { headerValue } from './header-value.ts';
import { isIdempotentMethod } from './idempotency.ts';
import { isReplayable, readBody, replayableLength } from './request-body.ts';
import { StageHandler } from './stage-handler.ts';
import { startCallTrace, type CallTrace } from './call-trace.ts';

type Headers = Record<string, string | string[] | undefined>;

const PENDING = 0;
const COMMITTED = 1;
const DONE = 2;

/**
 * One logical call, as the call stage makes it: its state (deadline, idempotency, request
 * id, trace, the attempt counters the stages below write) travels down the pipeline in the
 * dispatch options, and exactly one outcome comes back up to the downstream handler — the
 * client's response collector, or fetch's / undici.request's own — which sees this handler
 * as its controller for the whole call, retries included.
 *
 * Its inputs come from the client's `lifeline` dispatch option, or for a request from
 * fetch / undici.request, the pipeline's defaults and the request being handled (its
 * deadline, cancellation, request id and trace). Before the first attempt it reads a fetch
 * body of known length into memory (so a retry can send it again) and waits for
 * discovery's first answer; once response headers are in, it bounds the body by the total
 * deadline (on the coarse timer: nothing is aborted on success).
 *
 * @internal
 */
export class CallHandler extends StageHandler implements CallState, TimerTask {
  timerAt = 0;
  timerNext: TimerTask | null = null;
  timerPrev: TimerTask | null = null;
  timerSlot = -1;

  readonly service: string;
  readonly deadline: Deadline;
  readonly idempotent: boolean;
  replayable: boolean;
  readonly attemptTimeout: number;
  readonly own: boolean;
  readonly callHeaders: Dispatcher.DispatchOptions['headers'];
  readonly trace: CallTrace;
  readonly signal: AbortSignal;
  /** The caller's own signal (or the inbound request's), watched while the call is in flight. */
  readonly callerSignal: AbortSignal | undefined;
  abortReason: Error | null = null;
  attempt = 1;
  sent = 0;
  endpoint: Endpoint | undefined = undefined;
  failedOn: Endpoint | Set<Endpoint> | undefined = undefined;
  /** Called once when the call has its outcome. */
  onSettled: ((call: CallHandler) => void) | undefined;
  /** Links in the pipeline's list of calls in flight (intrusive: no per-call node or Set entry). */
  prevInFlight: CallHandler | null = null;
  nextInFlight: CallHandler | null = null;

  readonly #settings: CallSettings;
  #options: Dispatcher.DispatchOptions;
  readonly #startedAt: number;
  #state = PENDING;
  #status = 0;
  #dispatched = false;

  constructor(settings: CallSettings, options: LifelineDispatchOptions, upstream: Dispatcher.DispatchHandler) {
    super(upstream);
    this.#settings = settings;
    this.service = settings.service;
    this.#options = options;
    const given = options.lifeline;
    let inbound: RequestContext | undefined;
    let requestId: string | undefined;
    if (given !== undefined) {
      inbound = given.inbound;
      this.deadline = given.deadline;
      this.callerSignal = given.signal;
      this.idempotent = given.idempotent;
      this.attemptTimeout = given.attemptTimeout ?? settings.attemptTimeout;
      this.own = true;
      const id = (options.headers as Headers)[REQUEST_ID];
      if (typeof id === 'string') requestId = id;
    } else {
      // fetch() or undici.request(): the pipeline's defaults, inside the request being handled.
      inbound = currentRequestContext();
      const own = settings.timeout === Infinity ? undefined : Deadline.after(settings.timeout, settings.clock);
      this.deadline = Deadline.earliest(own, inbound?.deadline) ?? Deadline.after(Infinity, settings.clock);
      this.callerSignal = inbound?.signal;
      this.idempotent = isIdempotentMethod(options.method) || headerValue(options.headers, 'idempotency-key') !== undefined;
      this.attemptTimeout = settings.attemptTimeout;
      this.own = false;
      requestId = headerValue(options.headers, REQUEST_ID);
    }
    this.callHeaders = options.headers;
    this.signal = this.callerSignal ?? settings.closeSignal;
    this.replayable = isReplayable(options.body);
    this.#startedAt = settings.clock.now();
    this.trace = startCallTrace(settings.telemetry, options.method, parentContext(inbound), requestId ?? inbound?.requestId ?? newRequestId());
  }

  /** Attempts sent so far: what a response or an error reports. */
  get attempts(): number {
    return this.sent;
  }

  start(dispatch: Dispatcher.Dispatch): void {
    this.upstream.onRequestStart?.(this, {});
    // A body fetch() made from a string, bytes, a Blob, a form: read once, so a retry can send it again.
    const length = this.idempotent && !this.replayable && this.#settings.retry.maxAttempts > 1 ? replayableLength(this.#options) : -1;
    if (length < 0) return this.#whenResolved(dispatch);
    readBody(this.#options.body as AsyncIterable<Uint8Array>, length).then(
      (body) => {
        this.#options = { ...this.#options, body };
        this.replayable = true;
        this.#whenResolved(dispatch);
      },
      (error: unknown) => this.#fail(error),
    );
  }

  /** The first call of a service may come before the resolver's first answer: wait for it, inside the deadline. */
  #whenResolved(dispatch: Dispatcher.Dispatch): void {
    const pool = this.#settings.pool;
    if (pool === undefined || pool.resolved) return this.#send(dispatch);
    pool.ready(this.deadline, this.signal).then(
      () => this.#send(dispatch),
      (error: unknown) => this.#fail(error),
    );
  }

  #send(dispatch: Dispatcher.Dispatch): void {
    if (this.#state === DONE) return;
    this.#dispatched = true;
    try {
      // The client's own options object is made for this call alone: it carries the state as
      // it is. A request from fetch / undici.request is the caller's: it gets a copy.
      let options = this.#options as StageOptions & { [CALL]: CallState };
      if (this.own) options[CALL] = this;
      else options = { ...options, [CALL]: this };
      dispatch(options, this);
    } catch (error) {
      this.onResponseError(null, error as Error);
    }
  }

  /** Ends the call with `reason` (the caller's abort, or the pipeline being destroyed). */
  protected override onAbort(reason: Error): void {
    if (this.#state === DONE) return;
    this.abortReason = reason;
    if (this.#dispatched) this.below?.abort(reason);
    else this.#fail(reason); // reading the body or waiting for discovery: nothing below would report
  }

  /** The total deadline passed while the body was read. */
  onTimer(): void {
    if (this.#state !== COMMITTED) return;
    // Expected, and raised from the shared timer's tick: no stack to capture.
    this.below?.abort(withoutStack(() => new LifelineError('DEADLINE_EXCEEDED', `${this.service}: deadline exceeded`, { retryable: false })));
  }

  override onResponseStart(controller: Dispatcher.DispatchController, status: number, headers: Headers, statusText?: string): void {
    if (this.#state !== PENDING) return;
    this.#state = COMMITTED;
    this.#status = status;
    // Headers are in: from now on only the total deadline bounds the body.
    this.#settings.timer.schedule(this, this.deadline.at);
    super.onResponseStart(controller, status, headers, statusText);
  }

  override onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#state === COMMITTED) super.onResponseData(controller, chunk);
  }

  override onResponseEnd(controller: Dispatcher.DispatchController, trailers: Headers): void {
    if (this.#state !== COMMITTED) return;
    this.#settle();
    this.#settings.telemetry.endCall(this.trace.span, this.#status, undefined, this.sent);
    super.onResponseEnd(controller, trailers);
  }

  override onResponseError(_controller: Dispatcher.DispatchController | null, error: Error): void {
    this.#fail(error);
  }

  #fail(error: unknown): void {
    if (this.#state === DONE) return;
    this.#settle();
    const decorated = this.#decorate(error);
    this.#settings.telemetry.endCall(this.trace.span, this.#status, decorated, this.sent);
    this.upstream.onResponseError?.(this, decorated);
  }

  #settle(): void {
    this.#state = DONE;
    this.#settings.timer.cancel(this);
    this.onSettled?.(this);
  }

  #decorate(error: unknown): Error {
    if (isLifelineError(error)) {
      error.service ??= this.service;
      error.attempts = this.sent;
      error.elapsedMs = Math.round(this.#settings.clock.now() - this.#startedAt);
      return error;
    }
    return error instanceof Error ? error : new Error(String(error));
  }
}

import { Deadline, HttpStatusError, isLifelineError, LifelineError, type PolicyContext, type TimerTask } from '@lifeline/core';
import type { Breaker } from '@lifeline/breaker';
import type { Endpoint } from '@lifeline/discovery';
import type { GiveUpEvent, RetryEvent, RetryExecuteOptions } from '@lifeline/retry';
import { currentRequestContext, formatDeadlineHeader, newRequestId, parentContext, REQUEST_ID, type RequestContext } from '@lifeline/trace';
import { trace, type Span } from '@opentelemetry/api';
import type { Dispatcher } from 'undici';
import { Attempt, heldAttemptOf, type AttemptOwner } from './attempt.ts';
import { attemptHeaders, ownAttemptHeaders } from './attempt-headers.ts';
import { CallController } from './call-controller.ts';
import type { CallSettings, LifelineDispatchOptions } from './call-settings.ts';
import { invalidHeaderError } from './header-check.ts';
import { headerValue } from './header-value.ts';
import { isIdempotentMethod } from './idempotency.ts';
import { mapNetworkError } from './map-error.ts';
import { isReplayable, readBody, replayableLength } from './request-body.ts';
import { startCallTrace, traceHeaders, type CallTrace } from './telemetry.ts';

type HeaderRecord = Record<string, string | string[] | undefined>;

const PENDING = 0;
const COMMITTED = 1;
const DONE = 2;

/**
 * One logical call through the pipeline, from the call stage to its single outcome: wait
 * for discovery's first answer, take a limiter slot, then attempts under the retry policy
 * — each routed (an endpoint picked, a breaker ticket taken), bounded (a per-attempt
 * timeout inside the total deadline) and sent with the wire headers — and exactly one
 * outcome delivered to the downstream undici handler: the client's response collector, or
 * fetch's / undici.request's own handler.
 *
 * Its per-call inputs come from the dispatch options: the client's `lifeline` entry, or for
 * a request from fetch / undici.request, the pipeline's defaults and the request being
 * handled (its deadline, cancellation, request id and trace).
 *
 * Deadlines cost no timer and no AbortSignal per call: the call is its own entry in the
 * pipeline's {@link CoarseTimer}, scheduled at the attempt's end (min(attempt timeout,
 * deadline)) until response headers arrive and at the total deadline while the body is
 * read, and cancelled on completion. Nothing is aborted on success.
 *
 * @internal
 */
export class Call implements TimerTask, RetryExecuteOptions, AttemptOwner {
  timerAt = 0;
  timerNext: TimerTask | null = null;
  timerPrev: TimerTask | null = null;
  timerSlot = -1;

  readonly deadline: Deadline;
  /** Ends the retry waits: the caller's signal joined with the pipeline's close signal. */
  readonly signal: AbortSignal;
  /** The caller's own signal (or the inbound request's), watched while the call is in flight. */
  readonly callerSignal: AbortSignal | undefined;
  /** Whether the method (or an Idempotency-Key) makes repeating the call safe. */
  readonly idempotent: boolean;
  readonly service: string;
  attempts = 0;
  /** Called once when the call has its outcome. */
  onSettled: ((call: Call) => void) | undefined;
  /** Links in the pipeline's list of calls in flight (intrusive: no per-call node or Set entry). */
  prevInFlight: Call | null = null;
  nextInFlight: Call | null = null;

  readonly #settings: CallSettings;
  readonly #dispatch: Dispatcher.Dispatch;
  #options: Dispatcher.DispatchOptions;
  readonly #downstream: Dispatcher.DispatchHandler;
  readonly #controller: CallController;
  /** The client built the headers: a record with lower-case names, defaults included. */
  readonly #own: boolean;
  readonly #attemptTimeout: number;
  #replayable: boolean;
  #canRetry: boolean;
  readonly #startedAt: number;
  readonly #trace: CallTrace;
  #state = PENDING;
  /** Whether the call holds a limiter slot. */
  #slot = false;
  #attempt: Attempt | null = null;
  #attemptEndsAt = Infinity;
  #attemptStartedAt = 0;
  /** The breaker ticket of the attempt in progress; -1 once its outcome is reported. */
  #ticket = -1;
  /** The breaker of the attempt in progress (without discovery). */
  #breaker: Breaker | undefined;
  /** The endpoint of the attempt in progress (discovery), kept after it to steer the retry elsewhere. */
  #endpoint: Endpoint | undefined;
  /** Whether `#endpoint` still counts the attempt in flight. */
  #endpointBusy = false;
  /**
   * The endpoints this call's earlier attempts failed on (an attempt is followed by another
   * only when it failed): the endpoint itself, then a Set from the second one on, so the
   * first retry allocates nothing.
   */
  #failedOn: Endpoint | Set<Endpoint> | undefined;
  #abortReason: Error | null = null;
  /** Why the last attempt could not be sent (an open breaker) while a response was held. */
  #refusal: Error | undefined;
  /** The attempt in progress has not reported its outcome yet. */
  #attemptOpen = false;
  #attemptSpan: Span | undefined;
  #attemptOrigin = '';
  /** The status of the answer, once committed. */
  #status = 0;

  constructor(settings: CallSettings, dispatch: Dispatcher.Dispatch, options: LifelineDispatchOptions, downstream: Dispatcher.DispatchHandler) {
    this.#settings = settings;
    this.service = settings.service;
    this.#dispatch = dispatch;
    this.#options = options;
    this.#downstream = downstream;
    const given = options.lifeline;
    let inbound: RequestContext | undefined;
    let requestId: string | undefined;
    if (given !== undefined) {
      inbound = given.inbound;
      this.deadline = given.deadline;
      this.callerSignal = given.signal;
      this.idempotent = given.idempotent;
      this.#attemptTimeout = given.attemptTimeout ?? settings.attemptTimeout;
      this.#own = true;
      const id = (options.headers as HeaderRecord)[REQUEST_ID];
      if (typeof id === 'string') requestId = id;
    } else {
      // fetch() or undici.request(): the pipeline's defaults, inside the request being handled.
      inbound = currentRequestContext();
      const own = settings.timeout === Infinity ? undefined : Deadline.after(settings.timeout, settings.clock);
      this.deadline = Deadline.earliest(own, inbound?.deadline) ?? Deadline.after(Infinity, settings.clock);
      this.callerSignal = inbound?.signal;
      this.idempotent = isIdempotentMethod(options.method) || headerValue(options.headers, 'idempotency-key') !== undefined;
      this.#attemptTimeout = settings.attemptTimeout;
      this.#own = false;
      requestId = headerValue(options.headers, REQUEST_ID);
    }
    const caller = this.callerSignal;
    this.signal = caller === undefined ? settings.closeSignal : AbortSignal.any([caller, settings.closeSignal]);
    this.#replayable = isReplayable(options.body);
    this.#canRetry = this.idempotent && this.#replayable;
    this.#startedAt = settings.clock.now();
    this.#trace = startCallTrace(settings.telemetry, options.method, parentContext(inbound), requestId ?? inbound?.requestId ?? newRequestId());
    this.#controller = new CallController(this);
  }

  start(): void {
    this.#downstream.onRequestStart?.(this.#controller, {});
    // A body fetch() made from a string, bytes, a Blob, a form: read once, so a retry can send it again.
    const length = this.idempotent && !this.#replayable && this.#settings.retry.maxAttempts > 1 ? replayableLength(this.#options) : -1;
    if (length < 0) return this.#whenResolved();
    readBody(this.#options.body as AsyncIterable<Uint8Array>, length).then(
      (body) => {
        this.#options = { ...this.#options, body };
        this.#replayable = true;
        this.#canRetry = this.idempotent;
        this.#whenResolved();
      },
      (error: unknown) => this.fail(error),
    );
  }

  /** The first call of a service may come before the resolver's first answer: wait for it, inside the deadline. */
  #whenResolved(): void {
    const pool = this.#settings.pool;
    if (pool === undefined || pool.resolved) return this.#admit();
    pool.ready(this.deadline, this.signal).then(() => this.#admit(), (error: unknown) => this.fail(error));
  }

  /** Takes a slot of the limiter (waiting at most until the deadline), then runs the attempts. */
  #admit(): void {
    if (this.#state === DONE) return;
    const limiter = this.#settings.limiter;
    if (limiter === undefined) return this.#run();
    if (limiter.tryAcquire()) {
      this.#slot = true;
      return this.#run();
    }
    limiter.acquire({ deadline: this.deadline, signal: this.signal }).then(
      () => {
        if (this.#state === DONE) return limiter.release();
        this.#slot = true;
        this.#run();
      },
      (error: unknown) => this.fail(error),
    );
  }

  #run(): void {
    this.#settings.retry.execute((context) => this.#startAttempt(context), this).then(undefined, (error: unknown) => {
      this.#onGiveUp(error);
    });
  }

  /** Ends the call now with `reason` (the caller's abort, or the pipeline being destroyed). */
  abort(reason: Error): void {
    if (this.#state === DONE || this.#abortReason !== null) return;
    this.#abortReason = reason;
    const attempt = this.#attempt;
    // An attempt undici is working on reports the abort back; otherwise nothing would, so end the call here.
    if (attempt !== null && attempt.inFlight) attempt.abort(reason);
    else {
      attempt?.discard();
      this.fail(reason);
    }
  }

  /** The total deadline or the attempt timeout has passed. */
  onTimer(): void {
    const attempt = this.#attempt;
    if (attempt === null || this.#state === DONE) return;
    const total = this.#state === COMMITTED || this.#attemptEndsAt >= this.deadline.at;
    attempt.abort(
      total
        ? new LifelineError('DEADLINE_EXCEEDED', `${this.service}: deadline exceeded`, { retryable: false })
        : new LifelineError('ATTEMPT_TIMEOUT', `${this.service}: attempt timed out`, { retryable: this.#canRetry }),
    );
  }

  /** Classifies an undici error for this call. */
  classify(error: Error): unknown {
    // undici refused a header: say which one, as a Lifeline error (the headers are scanned
    // only now, so a valid call never pays for the check).
    if ((error as { code?: unknown }).code === 'UND_ERR_INVALID_ARG') {
      const invalid = invalidHeaderError(this.#options.headers, this.service, error);
      if (invalid !== undefined) return invalid;
    }
    return mapNetworkError(error, this.#canRetry, this.#replayable);
  }

  commit(controller: Dispatcher.DispatchController, status: number, headers: HeaderRecord, statusText: string): void {
    this.#state = COMMITTED;
    this.#status = status;
    this.#controller.target = controller;
    // Headers are in: from now on only the total deadline bounds the body.
    this.#settings.timer.schedule(this, this.deadline.at);
    this.#downstream.onResponseStart?.(this.#controller, status, headers, statusText);
  }

  data(chunk: Buffer): void {
    this.#downstream.onResponseData?.(this.#controller, chunk);
  }

  end(trailers: HeaderRecord): void {
    this.#settle();
    this.#settings.telemetry.endCall(this.#trace.span, this.#status, undefined, this.attempts);
    this.#downstream.onResponseEnd?.(this.#controller, trailers);
  }

  fail(error: unknown): void {
    if (this.#state === DONE) return;
    this.#settle();
    const decorated = this.#decorate(error);
    this.#settings.telemetry.endCall(this.#trace.span, this.#status, decorated, this.attempts);
    this.#downstream.onResponseError?.(this.#controller, decorated);
  }

  #startAttempt(context: PolicyContext): Promise<Attempt> {
    if (this.#state === DONE || this.#abortReason !== null) {
      this.#attempt?.discard();
      return Promise.reject(this.#abortReason ?? new LifelineError('ABORTED', `${this.service}: the call has ended`));
    }
    if (this.deadline.expired) {
      this.#attempt?.discard();
      return Promise.reject(new LifelineError('DEADLINE_EXCEEDED', `${this.service}: deadline exceeded`, { retryable: false }));
    }
    const settings = this.#settings;
    const origin = this.#route();
    if (typeof origin !== 'string') {
      settings.telemetry.refused(this.#trace.span, origin);
      // The answer wins over the breaker: a response already received (a 503 with its body)
      // stays the call's answer when its retry is refused; the refusal is only an event.
      if (this.#attempt?.held === true) this.#refusal = origin;
      else this.#attempt?.discard();
      return Promise.reject(origin);
    }
    this.#attempt?.discard();
    this.attempts = context.attempt;
    const attempt = new Attempt(this, this.#canRetry && context.attempt < settings.retry.maxAttempts);
    this.#attempt = attempt;
    this.#attemptStartedAt = settings.clock.now();
    this.#attemptEndsAt = Math.min(this.#attemptStartedAt + this.#attemptTimeout, this.deadline.at);
    this.#attemptOpen = true;
    this.#attemptOrigin = origin;
    const options = this.#options;
    // A recorded call has a CLIENT span per attempt, and each attempt sends its own traceparent.
    let tracing = this.#trace.headers;
    const { context: callContext, tracer } = this.#trace;
    if (callContext !== undefined && tracer !== undefined) {
      const span = settings.telemetry.startAttempt(tracer, callContext, options.method, origin, options.path, context.attempt);
      this.#attemptSpan = span;
      tracing = traceHeaders(trace.setSpan(callContext, span), this.#trace.requestId);
    }
    // The attempt number, and the time this attempt has left in relative ms (no clock skew
    // between hosts), so the next hop stops working when this one stops waiting.
    const left = this.#attemptEndsAt - this.#attemptStartedAt;
    const timeout = left === Infinity ? undefined : formatDeadlineHeader(left);
    const number = String(context.attempt);
    const attemptOptions: Dispatcher.DispatchOptions = {
      ...options,
      origin,
      headers: this.#own
        ? ownAttemptHeaders(options.headers as HeaderRecord, number, timeout, tracing)
        : attemptHeaders(options.headers, number, timeout, tracing, settings.headers),
    };
    settings.timer.schedule(this, this.#attemptEndsAt);
    try {
      this.#dispatch(attemptOptions, attempt);
    } catch (error) {
      attempt.onResponseError(null, error as Error);
    }
    return attempt.promise;
  }

  /**
   * Where the attempt goes: with discovery, a picked endpoint (its breaker ticket taken by
   * the pool); else the request's origin, through the dependency's breaker (or the origin's,
   * for an interceptor that serves any origin). An Error when the attempt must not be sent.
   */
  #route(): string | Error {
    const settings = this.#settings;
    const pool = settings.pool;
    if (pool !== undefined) {
      // A retry avoids every endpoint this call has already failed on.
      const last = this.#endpoint;
      const failedOn = this.#failedOn;
      if (last !== undefined && last !== failedOn) {
        if (failedOn === undefined) this.#failedOn = last;
        else if (failedOn instanceof Set) failedOn.add(last);
        else this.#failedOn = new Set([failedOn, last]);
      }
      const endpoint = pool.pick(this.#failedOn);
      if (endpoint === undefined) return pool.unavailableError();
      this.#endpoint = endpoint;
      this.#ticket = pool.begin(endpoint);
      this.#endpointBusy = true;
      return endpoint.origin;
    }
    const given = this.#options.origin;
    const origin = typeof given === 'string' ? given : given === undefined ? '' : given.origin;
    const breaker = settings.breaker ?? settings.breakers?.get(origin);
    if (breaker === undefined) return origin;
    try {
      this.#ticket = breaker.acquire();
    } catch (error) {
      // Open: fail fast. CIRCUIT_OPEN is not retryable, so no retry waits on an open breaker.
      return error instanceof Error ? error : new Error(String(error));
    }
    this.#breaker = breaker;
    return origin;
  }

  /** The policy stopped: replay the last response if there is one, else report the error. */
  #onGiveUp(error: unknown): void {
    if (this.#state !== PENDING) return;
    let held = heldAttemptOf(error);
    const refusal = this.#refusal;
    if (held === undefined && refusal !== undefined && (error === refusal || (error as { cause?: unknown }).cause === refusal)) {
      held = this.#attempt ?? undefined;
    }
    if (held !== undefined && held === this.#attempt && this.#abortReason === null && held.replay()) return;
    held?.discard();
    this.fail(error);
  }

  /**
   * Reports how the attempt went to the breaker, once: at response headers (a 5xx is a
   * failure; slowness is judged by time to headers), or when it failed before them. An
   * attempt the caller abandoned is cancelled: it says nothing about the dependency.
   */
  attemptOutcome(status: number, error: unknown): void {
    if (!this.#attemptOpen) return;
    this.#attemptOpen = false;
    const settings = this.#settings;
    const elapsed = settings.clock.now() - this.#attemptStartedAt;
    // An abandoned attempt, or one never sent (a header undici refused), says nothing about the dependency.
    const cancelled =
      error !== undefined && (isLifelineError(error, 'ABORTED') || isLifelineError(error, 'INVALID_HEADER') || error === this.#abortReason);
    const span = this.#attemptSpan;
    this.#attemptSpan = undefined;
    settings.telemetry.endAttempt(span, this.#options.method, this.#attemptOrigin, status, error, elapsed / 1000, cancelled);
    const pool = settings.pool;
    const breaker = this.#breaker;
    if (pool !== undefined ? !this.#endpointBusy : breaker === undefined || this.#ticket === -1) return;
    const ticket = this.#ticket;
    this.#ticket = -1;
    this.#endpointBusy = false;
    const failure = error ?? (status < 500 ? undefined : new HttpStatusError(status, {}, '', { service: this.service }));
    if (pool !== undefined) {
      const endpoint = this.#endpoint!;
      if (cancelled) pool.cancelled(endpoint, ticket);
      else if (failure === undefined) pool.succeeded(endpoint, ticket, elapsed);
      else {
        const wasEjected = endpoint.ejected;
        pool.failed(endpoint, ticket, elapsed, failure);
        if (!wasEjected && endpoint.ejected) settings.telemetry.ejected(this.#trace.span, endpoint.origin);
      }
    } else if (cancelled) breaker!.cancel(ticket);
    else if (failure === undefined) breaker!.success(ticket, elapsed);
    else breaker!.failure(ticket, elapsed, failure);
  }

  /** The retry policy decided to retry this call (RetryExecuteOptions hook). */
  onRetry(event: RetryEvent): void {
    this.#settings.telemetry.retried(this.#trace.span, event.attempt, event.delay, event.error);
  }

  /** The retry policy let this call's failed attempt be final (RetryExecuteOptions hook). */
  onGiveUp(event: GiveUpEvent): void {
    this.#settings.telemetry.gaveUp(this.#trace.span, event.reason, event.attempt);
  }

  #settle(): void {
    this.#state = DONE;
    this.#settings.timer.cancel(this);
    if (this.#slot) {
      this.#slot = false;
      this.#settings.limiter!.release();
    }
    this.onSettled?.(this);
  }

  #decorate(error: unknown): Error {
    if (isLifelineError(error)) {
      error.service ??= this.service;
      error.attempts = this.attempts;
      error.elapsedMs = Math.round(this.#settings.clock.now() - this.#startedAt);
      return error;
    }
    return error instanceof Error ? error : new Error(String(error));
  }
}

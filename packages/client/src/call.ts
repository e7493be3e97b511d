import {
  HttpStatusError,
  isLifelineError,
  LifelineError,
  type Clock,
  type CoarseTimer,
  type Deadline,
  type PolicyContext,
  type TimerTask,
} from '@lifeline/core';
import type { CircuitBreaker } from '@lifeline/breaker';
import type { Endpoint, ServicePool } from '@lifeline/discovery';
import type { GiveUpEvent, RetryEvent, RetryExecuteOptions, RetryPolicy } from '@lifeline/retry';
import { BAGGAGE, formatDeadlineHeader, REQUEST_ATTEMPT, REQUEST_ID, REQUEST_TIMEOUT, TRACEPARENT, TRACESTATE } from '@lifeline/trace';
import { trace, type Span } from '@opentelemetry/api';
import type { Dispatcher } from 'undici';
import { Attempt, heldAttemptOf } from './attempt.ts';
import { CallController } from './call-controller.ts';
import { mapNetworkError } from './map-error.ts';
import { invalidHeaderError } from './options.ts';
import { traceHeaders, type CallTrace, type Telemetry } from './telemetry.ts';

/** What a call needs from its owner, resolved once at construction. @internal */
export interface CallSettings {
  readonly service: string;
  readonly retry: RetryPolicy;
  readonly attemptTimeout: number;
  readonly timer: CoarseTimer;
  readonly clock: Clock;
  /** The breaker each attempt goes through, when there is one. */
  readonly breaker: CircuitBreaker | undefined;
  /** The service's endpoints, when the client uses discovery: each attempt picks one. */
  readonly pool: ServicePool | undefined;
  /** The request headers are always a record with lower-case names (the client's own calls, not an interceptor's). */
  readonly ownHeaders: boolean;
  readonly telemetry: Telemetry;
}

const PENDING = 0;
const COMMITTED = 1;
const DONE = 2;

/**
 * One logical call: attempts under the retry policy, a total deadline and a per-attempt
 * timeout, and exactly one outcome delivered to the downstream undici handler — the
 * client's response collector, or fetch's / undici.request's own handler when used as an
 * interceptor.
 *
 * Deadlines cost no timer and no AbortSignal per call: the call is its own entry in the
 * owner's {@link CoarseTimer}, scheduled at the attempt's end (min(attempt timeout,
 * deadline)) until response headers arrive and at the total deadline while the body is
 * read, and cancelled on completion. Nothing is aborted on success.
 *
 * @internal
 */
export class Call implements TimerTask, RetryExecuteOptions {
  timerAt = 0;
  timerNext: TimerTask | null = null;
  timerPrev: TimerTask | null = null;
  timerSlot = -1;

  readonly deadline: Deadline;
  readonly signal: AbortSignal | undefined;
  /** Whether the method (or an Idempotency-Key) makes repeating the call safe. */
  readonly idempotent: boolean;
  readonly service: string;
  attempts = 0;
  /** Called once when the call has its outcome. */
  onSettled: ((call: Call) => void) | undefined;
  /** Links in the owner's list of calls in flight (intrusive: no per-call node or Set entry). */
  prevInFlight: Call | null = null;
  nextInFlight: Call | null = null;

  readonly #settings: CallSettings;
  readonly #dispatch: Dispatcher.Dispatch;
  readonly #options: Dispatcher.DispatchOptions;
  readonly #downstream: Dispatcher.DispatchHandler;
  readonly #controller: CallController;
  readonly #canRetry: boolean;
  readonly #replayable: boolean;
  readonly #startedAt: number;
  #state = PENDING;
  #attempt: Attempt | null = null;
  #attemptEndsAt = Infinity;
  #attemptStartedAt = 0;
  /** The breaker ticket of the attempt in progress; -1 once its outcome is reported. */
  #ticket = -1;
  /** The endpoint of the attempt in progress (discovery), kept after it to steer the retry elsewhere. */
  #endpoint: Endpoint | undefined;
  /** Whether `#endpoint` still counts the attempt in flight. */
  #endpointBusy = false;
  #abortReason: Error | null = null;
  readonly #trace: CallTrace;
  /** The attempt in progress has not reported its outcome yet. */
  #attemptOpen = false;
  #attemptSpan: Span | undefined;
  #attemptOrigin = '';
  /** The status of the answer, once committed. */
  #status = 0;

  constructor(
    settings: CallSettings,
    dispatch: Dispatcher.Dispatch,
    options: Dispatcher.DispatchOptions,
    downstream: Dispatcher.DispatchHandler,
    deadline: Deadline,
    signal: AbortSignal | undefined,
    idempotent: boolean,
    replayable: boolean,
    callTrace: CallTrace,
  ) {
    this.#settings = settings;
    this.#trace = callTrace;
    this.service = settings.service;
    this.#dispatch = dispatch;
    this.#options = options;
    this.#downstream = downstream;
    this.deadline = deadline;
    this.signal = signal;
    this.idempotent = idempotent;
    this.#replayable = replayable;
    this.#canRetry = idempotent && replayable;
    this.#startedAt = settings.clock.now();
    this.#controller = new CallController((reason) => this.abort(reason));
  }

  start(): void {
    this.#downstream.onRequestStart?.(this.#controller, {});
    this.#settings.retry.execute((context) => this.#startAttempt(context), this).then(undefined, (error: unknown) => {
      this.#onGiveUp(error);
    });
  }

  /** Ends the call now with `reason` (the caller's abort, or the client being destroyed). */
  abort(reason: Error): void {
    if (this.#state === DONE || this.#abortReason !== null) return;
    this.#abortReason = reason;
    this.#attempt?.abort(reason);
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

  commit(controller: Dispatcher.DispatchController, status: number, headers: Record<string, string | string[] | undefined>, statusText: string): void {
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

  end(trailers: Record<string, string | string[] | undefined>): void {
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
    this.#attempt?.discard();
    if (this.#abortReason !== null) return Promise.reject(this.#abortReason);
    if (this.deadline.expired) {
      return Promise.reject(new LifelineError('DEADLINE_EXCEEDED', `${this.service}: deadline exceeded`, { retryable: false }));
    }
    const settings = this.#settings;
    let origin = this.#options.origin;
    const pool = settings.pool;
    if (pool !== undefined) {
      // A retry prefers an endpoint other than the one that just failed.
      const endpoint = pool.pick(this.#endpoint);
      if (endpoint === undefined) {
        const error = pool.unavailableError();
        settings.telemetry.refused(this.#trace.span, error);
        return Promise.reject(error);
      }
      this.#endpoint = endpoint;
      this.#ticket = pool.begin(endpoint);
      this.#endpointBusy = true;
      origin = endpoint.origin;
    } else if (settings.breaker !== undefined) {
      try {
        this.#ticket = settings.breaker.acquire();
      } catch (error) {
        // Open: fail fast. CIRCUIT_OPEN is not retryable, so no retry waits on an open breaker.
        settings.telemetry.refused(this.#trace.span, error);
        return Promise.reject(error instanceof Error ? error : new Error(String(error)));
      }
    }
    this.attempts = context.attempt;
    const attempt = new Attempt(this, this.#canRetry && context.attempt < settings.retry.maxAttempts);
    this.#attempt = attempt;
    this.#attemptStartedAt = settings.clock.now();
    this.#attemptEndsAt = Math.min(this.#attemptStartedAt + settings.attemptTimeout, this.deadline.at);
    this.#attemptOpen = true;
    this.#attemptOrigin = String(origin);
    // A recorded call has a CLIENT span per attempt, and each attempt sends its own traceparent.
    let tracing = this.#trace.headers;
    const { context: callContext, tracer } = this.#trace;
    if (callContext !== undefined && tracer !== undefined) {
      const span = settings.telemetry.startAttempt(tracer, callContext, this.#options.method, this.#attemptOrigin, this.#options.path, context.attempt);
      this.#attemptSpan = span;
      tracing = traceHeaders(trace.setSpan(callContext, span), this.#trace.requestId);
    }
    // The attempt number, and the time this attempt has left in relative ms (no clock skew
    // between hosts), so the next hop stops working when this one stops waiting.
    const left = this.#attemptEndsAt - this.#attemptStartedAt;
    const options: Dispatcher.DispatchOptions = {
      ...this.#options,
      origin,
      headers: settings.ownHeaders
        ? {
            ...(this.#options.headers as Record<string, string | string[] | undefined>),
            [REQUEST_ATTEMPT]: String(context.attempt),
            [REQUEST_TIMEOUT]: left === Infinity ? undefined : formatDeadlineHeader(left),
            ...tracing,
          }
        : withHeaders(this.#options.headers, String(context.attempt), left === Infinity ? undefined : formatDeadlineHeader(left), tracing),
    };
    settings.timer.schedule(this, this.#attemptEndsAt);
    try {
      this.#dispatch(options, attempt);
    } catch (error) {
      attempt.onResponseError(null, error as Error);
    }
    return attempt.promise;
  }

  /** The policy stopped: replay the last response if there is one, else report the error. */
  #onGiveUp(error: unknown): void {
    if (this.#state !== PENDING) return;
    const held = heldAttemptOf(error);
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
    const { pool, breaker } = settings;
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

type DispatchHeaders = Dispatcher.DispatchOptions['headers'];

/**
 * `headers` with the attempt and remaining-time headers set (any other spelling of them
 * replaced), in whichever form undici was given them: a record, a flat `[name, value, …]`
 * array, or an iterable of pairs.
 */
function withHeaders(
  headers: DispatchHeaders,
  attempt: string,
  timeout: string | undefined,
  tracing: Record<string, string> | undefined,
): DispatchHeaders {
  const set: Record<string, string> = { ...tracing, [REQUEST_ATTEMPT]: attempt };
  if (timeout !== undefined) set[REQUEST_TIMEOUT] = timeout;
  // Names we set replace any spelling of theirs, and so does the timeout even when we send
  // none, and a tracestate when we send a traceparent (it belonged to another parent).
  // A length check first: most names are none of ours, and lower-casing each would cost more.
  const replaced = (name: string): boolean =>
    name in set || name === REQUEST_TIMEOUT || (name === TRACESTATE && TRACEPARENT in set);
  const ours = (key: string): boolean => OUR_NAME_LENGTHS.has(key.length) && replaced(key.toLowerCase());
  if (Array.isArray(headers)) {
    const out: string[] = [];
    for (let i = 0; i + 1 < headers.length; i += 2) {
      if (!ours(String(headers[i]))) out.push(headers[i] as string, headers[i + 1] as string);
    }
    for (const name in set) out.push(name, set[name]!);
    return out;
  }
  const out: Record<string, string | string[] | undefined> = {};
  if (headers !== undefined && headers !== null) {
    if (typeof (headers as Iterable<unknown>)[Symbol.iterator] === 'function') {
      for (const [key, v] of headers as Iterable<[string, string | string[]]>) if (!ours(key)) out[key] = v;
    } else {
      const record = headers as Record<string, string | string[] | undefined>;
      for (const key in record) if (!ours(key)) out[key] = record[key];
    }
  }
  for (const name in set) out[name] = set[name];
  return out;
}

/** The lengths of the header names the interceptor sets. */
const OUR_NAME_LENGTHS = new Set(
  [REQUEST_ATTEMPT, REQUEST_TIMEOUT, REQUEST_ID, TRACEPARENT, TRACESTATE, BAGGAGE].map((name) => name.length),
);

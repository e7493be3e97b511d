import { isLifelineError, LifelineError, withoutStack, type TimerTask } from '@lifeline/core';
import { formatDeadlineHeader, REQUEST_PRIORITY } from '@lifeline/trace';
import { trace, type Span } from '@opentelemetry/api';
import type { Dispatcher } from 'undici';
import { attemptHeaders, ownAttemptHeaders } from './attempt-headers.ts';
import { CALL, type CallSettings, type CallState, type StageOptions } from './call-settings.ts';
import { invalidHeaderError } from './header-check.ts';
import { mapNetworkError } from './map-error.ts';
import { StageHandler } from './stage-handler.ts';
import { traceHeaders } from './call-trace.ts';
import { attemptChannel, type AttemptMessage } from './diagnostics.ts';

type Headers = Record<string, string | string[] | undefined>;

const PENDING = 0; // sent, waiting for response headers
const COMMITTED = 1; // headers in: the body passes through
const DONE = 2; // reported: later callbacks from undici are ignored

/**
 * One attempt on the wire: the attempt's own time limit (min(attempt timeout, deadline),
 * on the pipeline's coarse timer, no timer of its own), the wire headers (attempt number,
 * the time the attempt has left, trace context, request id), its CLIENT span and duration
 * metric, and undici's errors turned into Lifeline errors that say whether a retry is safe.
 *
 * A timeout is reported at once, without waiting for undici to confirm the abort: a
 * deadline is met at the deadline, even while the request still queues for a connection.
 *
 * @internal
 */
export class AttemptHandler extends StageHandler implements TimerTask {
  timerAt = 0;
  timerNext: TimerTask | null = null;
  timerPrev: TimerTask | null = null;
  timerSlot = -1;

  readonly #settings: CallSettings;
  readonly #call: CallState;
  readonly #options: StageOptions;
  #state = PENDING;
  #startedAt = 0;
  #endsAt = 0;
  #origin = '';
  #span: Span | undefined;
  /** What ended the attempt before undici started it (a timeout while queued for a connection). */
  #ended: Error | undefined;

  constructor(settings: CallSettings, options: StageOptions, upstream: Dispatcher.DispatchHandler) {
    super(upstream);
    this.#settings = settings;
    this.#options = options;
    this.#call = options[CALL];
  }

  start(dispatch: Dispatcher.Dispatch): void {
    const settings = this.#settings;
    const call = this.#call;
    const options = this.#options;
    const attempt = call.attempt;
    call.sent = attempt;
    this.#startedAt = settings.clock.now();
    this.#endsAt = Math.min(this.#startedAt + call.attemptTimeout, call.deadline.at);
    const given = options.origin;
    this.#origin = typeof given === 'string' ? given : given === undefined ? '' : given.origin;
    // A recorded call has a CLIENT span per attempt, and each attempt sends its own traceparent.
    const callTrace = call.trace;
    let tracing = callTrace.headers;
    if (callTrace.context !== undefined && callTrace.tracer !== undefined) {
      const span = settings.telemetry.startAttempt(callTrace.tracer, callTrace.context, options.method, this.#origin, options.path, attempt);
      this.#span = span;
      tracing = traceHeaders(trace.setSpan(callTrace.context, span), callTrace.requestId);
    }
    // The attempt number, and the time this attempt has left in relative ms (no clock skew
    // between hosts), so the next hop stops working when this one stops waiting.
    const left = this.#endsAt - this.#startedAt;
    const timeout = left === Infinity ? undefined : formatDeadlineHeader(left);
    const number = String(attempt);
    // The options below the call stage are this call's alone — the client's own object, or the
    // call stage's copy of a fetch / undici.request caller's, or the route stage's copy per
    // attempt — and undici reads them when the attempt is dispatched: the attempt's headers,
    // made from the call's, go in them, so no copy of the options is made per attempt.
    if (call.sendsPriority) tracing = { ...tracing, [REQUEST_PRIORITY]: call.priority! };
    options.headers = call.own
      ? ownAttemptHeaders(call.callHeaders as Headers, number, timeout, tracing)
      : attemptHeaders(call.callHeaders, number, timeout, tracing, settings.headers);
    this.upstream.onRequestStart?.(this, {});
    settings.timer.schedule(this, this.#endsAt);
    try {
      dispatch(options, this);
    } catch (error) {
      this.onResponseError(null, error as Error);
    }
  }

  override onRequestStart(controller: Dispatcher.DispatchController, context?: unknown): void {
    super.onRequestStart(controller, context);
    if (this.#ended !== undefined && !this.aborted) controller.abort(this.#ended);
  }

  override onResponseStart(_controller: Dispatcher.DispatchController, status: number, headers: Headers, statusText?: string): void {
    if (this.#state !== PENDING) return;
    this.#state = COMMITTED;
    this.#settings.timer.cancel(this);
    this.#end(status, undefined, false);
    this.upstream.onResponseStart?.(this, status, headers, statusText);
  }

  override onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#state === COMMITTED) this.upstream.onResponseData?.(this, chunk);
  }

  override onResponseEnd(_controller: Dispatcher.DispatchController, trailers: Headers): void {
    if (this.#state !== COMMITTED) return;
    this.#state = DONE;
    this.upstream.onResponseEnd?.(this, trailers);
  }

  override onResponseError(_controller: Dispatcher.DispatchController | null, error: Error): void {
    if (this.#state === DONE) return;
    this.#report(this.#classify(error));
  }

  /** The attempt's time is up: the attempt timeout, or the call's deadline when that comes first. */
  onTimer(): void {
    if (this.#state !== PENDING) return;
    const total = this.#endsAt >= this.#call.deadline.at;
    const call = this.#call;
    // An expected outcome, raised from the shared timer's tick: a stack would say nothing of the call.
    const error = withoutStack(() =>
      total
        ? new LifelineError('DEADLINE_EXCEEDED', `${call.service}: deadline exceeded`, { retryable: false })
        : new LifelineError('ATTEMPT_TIMEOUT', `${call.service}: attempt timed out`, { retryable: call.idempotent && call.replayable }),
    );
    if (this.below === null) this.#ended = error;
    else this.below.abort(error);
    this.#report(error);
  }

  /** Aborted from above (the caller, the call's deadline): undici is told, the call hears at once. */
  protected override onAbort(reason: Error): void {
    if (this.#state === DONE) return;
    this.below?.abort(reason);
    this.#report(reason);
  }

  #report(error: unknown): void {
    const state = this.#state;
    this.#state = DONE;
    if (state === PENDING) {
      this.#settings.timer.cancel(this);
      const cancelled = isLifelineError(error, 'ABORTED') || isLifelineError(error, 'INVALID_HEADER') || error === this.#call.abortReason;
      this.#end(0, error, cancelled);
    }
    this.upstream.onResponseError?.(this, error as Error);
  }

  /** Ends the attempt's span and records its duration, to headers or to the failure. */
  #end(status: number, error: unknown, cancelled: boolean): void {
    const span = this.#span;
    this.#span = undefined;
    const ms = this.#settings.clock.now() - this.#startedAt;
    const options = this.#options;
    this.#settings.telemetry.endAttempt(span, options.method, this.#origin, status, error, ms / 1000, cancelled);
    if (attemptChannel.hasSubscribers) {
      const call = this.#call;
      const message: AttemptMessage = { service: call.service, method: options.method, origin: this.#origin, path: options.path, attempt: call.attempt, status, error, durationMs: ms };
      attemptChannel.publish(message);
    }
  }

  /** An undici error as the Lifeline error that says whether a retry is safe. */
  #classify(error: Error): unknown {
    const call = this.#call;
    // undici refused a header: say which one, as a Lifeline error (the headers are scanned
    // only now, so a valid call never pays for the check).
    if ((error as { code?: unknown }).code === 'UND_ERR_INVALID_ARG') {
      const invalid = invalidHeaderError(this.#options.headers, call.service, error);
      if (invalid !== undefined) return invalid;
    }
    return mapNetworkError(error, call.idempotent && call.replayable, call.replayable);
  }
}

import { abortError, Deadline, isLifelineError, LifelineError, withoutStack, type Priority, type TimerTask } from '@lifeline/core';
import type { Endpoint } from '@lifeline/discovery';
import { currentRequestContext, newRequestId, parentContext, readPriority, REQUEST_ID, REQUEST_PRIORITY, type RequestContext, type RequestWatcher } from '@lifeline/trace';
import type { Dispatcher } from 'undici';
import { CALL, type CallSettings, type CallState, type LifelineDispatchOptions, type StageOptions } from './call-settings.ts';
import { IDEMPOTENCY_KEY, readCallHeaders } from './call-headers.ts';
import { firstValue } from './header-value.ts';
import { isIdempotentMethod } from './idempotency.ts';
import { settleLostAnswers, type LostAnswer } from './lost-answer.ts';
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
 * deadline, cancellation, request id and trace: their headers are read in one pass, and their
 * options copied once, for the state to travel in). Before the first attempt it reads a
 * fetch body of known length into memory (so a retry can send it again) and waits for
 * discovery's first answer; once response headers are in, it bounds the body by the total
 * deadline (on the coarse timer: nothing is aborted on success).
 *
 * The call ends early when its caller cancels it: the caller's own signal, and the request
 * being handled. A request context that can be watched (`watch`, as `@lifeline/server`'s)
 * tells this handler itself, its watcher, so linking a call to it makes no AbortController,
 * no listener and no closure; the deadline it would also fire at is the call's own already
 * (`Deadline.earliest`). A context without `watch` is followed through its `signal`. Each
 * link is undone when the call has its outcome.
 *
 * @internal
 */
export class CallHandler extends StageHandler implements CallState, TimerTask, RequestWatcher {
  timerAt = 0;
  timerNext: TimerTask | null = null;
  timerPrev: TimerTask | null = null;
  timerSlot = -1;

  readonly service: string;
  readonly deadline: Deadline;
  readonly idempotent: boolean;
  readonly keyed: boolean;
  replayable: boolean;
  readonly attemptTimeout: number;
  readonly own: boolean;
  readonly callHeaders: Dispatcher.DispatchOptions['headers'];
  readonly priority: Priority | undefined;
  readonly sendsPriority: boolean;
  readonly trace: CallTrace;
  /**
   * The caller's own signal, or the inbound request's when that request cannot be watched
   * (or both, joined): listened to while the call is in flight.
   */
  readonly callerSignal: AbortSignal | undefined;
  abortReason: Error | null = null;
  attempt = 1;
  sent = 0;
  endpoint: Endpoint | undefined = undefined;
  failedOn: Endpoint | Set<Endpoint> | undefined = undefined;
  lostAnswers: LostAnswer[] | undefined = undefined;
  /** Called once when the call has its outcome. */
  onSettled: ((call: CallHandler) => void) | undefined;
  /** Links in the pipeline's list of calls in flight (intrusive: no per-call node or Set entry). */
  prevInFlight: CallHandler | null = null;
  nextInFlight: CallHandler | null = null;

  readonly #settings: CallSettings;
  readonly #options: Dispatcher.DispatchOptions;
  readonly #startedAt: number;
  /** The length of a body to read into memory before the first attempt, else -1. */
  readonly #replayLength: number;
  /** The request being handled, when it can be watched; cleared once there is nothing to unwatch. */
  #watched: RequestContext | undefined;
  /** Whether this handler listens to `callerSignal`'s abort event. */
  #listening = false;
  /** Made only when a wait of a watched call needs a signal: aborted with the call. */
  #waitController: AbortController | undefined;
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
    let contentLength: string | undefined;
    let priority: Priority | undefined;
    let priorityGiven = false;
    this.replayable = isReplayable(options.body);
    if (given !== undefined) {
      inbound = given.inbound;
      this.deadline = given.deadline;
      // The client joined the inbound signal in only when the request cannot be watched.
      this.callerSignal = given.signal;
      this.idempotent = given.idempotent;
      this.attemptTimeout = given.attemptTimeout ?? settings.attemptTimeout;
      this.own = true;
      // The client made the headers: a record, lower-case names.
      const headers = options.headers as Headers;
      const id = headers[REQUEST_ID];
      if (typeof id === 'string') requestId = id;
      this.keyed = headers[IDEMPOTENCY_KEY] !== undefined;
      if (!this.replayable) contentLength = firstValue(headers['content-length']);
      const ownPriority = headers[REQUEST_PRIORITY];
      if (ownPriority !== undefined) {
        priorityGiven = true;
        priority = readPriority(ownPriority);
      }
    } else {
      // fetch() or undici.request(): the pipeline's defaults, inside the request being handled.
      inbound = currentRequestContext();
      const own = settings.timeout === Infinity ? undefined : Deadline.after(settings.timeout, settings.clock);
      this.deadline = Deadline.earliest(own, inbound?.deadline) ?? Deadline.after(Infinity, settings.clock);
      // Reading `signal` of a watchable request would make the AbortController watching avoids.
      this.callerSignal = inbound === undefined || inbound.watch !== undefined ? undefined : inbound.signal;
      const found = readCallHeaders(options.headers); // one pass, read at once
      this.keyed = found.idempotencyKey !== undefined;
      this.idempotent = this.keyed || isIdempotentMethod(options.method);
      requestId = found.requestId;
      contentLength = found.contentLength;
      if (found.priority !== undefined) {
        priorityGiven = true;
        priority = readPriority(found.priority);
      }
      this.attemptTimeout = settings.attemptTimeout;
      this.own = false;
    }
    this.#watched = inbound?.watch === undefined ? undefined : inbound;
    this.callHeaders = options.headers;
    // The priority goes on like the deadline: the inbound request's, unless the call has its own.
    this.sendsPriority = !priorityGiven && inbound?.priority !== undefined;
    this.priority = priorityGiven ? priority : inbound?.priority;
    // A body fetch() made from a string, bytes, a Blob, a form: read once, so a retry can send it again.
    this.#replayLength = this.idempotent && !this.replayable && settings.retry.maxAttempts > 1 ? replayableLength(options.body, contentLength) : -1;
    this.#startedAt = settings.clock.now();
    this.trace = startCallTrace(settings.telemetry, options.method, parentContext(inbound), requestId ?? inbound?.requestId ?? newRequestId());
  }

  /**
   * What a wait of the call listens to (a limiter slot, discovery's first answer — most calls
   * wait for neither): the caller's signal, else the pipeline's close signal. A watched request
   * has no signal, so a watched call that waits gets one of its own, aborted with the call:
   * the waiter then leaves a limiter's queue at once, as it would on the request's signal.
   */
  get signal(): AbortSignal {
    if (this.#watched === undefined) return this.callerSignal ?? this.#settings.closeSignal;
    if (this.#waitController === undefined) {
      this.#waitController = new AbortController();
      if (this.abortReason !== null) this.#waitController.abort(this.abortReason);
    }
    return this.#waitController.signal;
  }

  /** Attempts sent so far: what a response or an error reports. */
  get attempts(): number {
    return this.sent;
  }

  start(dispatch: Dispatcher.Dispatch): void {
    this.upstream.onRequestStart?.(this, {});
    // Already cancelled: the call ends now, before anything is sent or queued.
    const cancelled = this.#link();
    if (cancelled !== undefined) return this.abort(cancelled);
    const length = this.#replayLength;
    if (length < 0) return this.#whenResolved(dispatch, this.#optionsBelow(undefined));
    readBody(this.#options.body as AsyncIterable<Uint8Array>, length).then(
      (body) => {
        this.replayable = true;
        this.#whenResolved(dispatch, this.#optionsBelow(body));
      },
      (error: unknown) => this.#fail(error),
    );
  }

  /**
   * The options the stages below read, the call's state in them, and `body` (read for a
   * retry) when given. The client's own options object is made for this call alone: it is
   * used as it is. A request's from fetch / undici.request is the caller's: it is copied,
   * once per call (each attempt sets its headers in this copy).
   */
  #optionsBelow(body: Buffer | undefined): StageOptions {
    if (this.own) {
      const options = this.#options as Dispatcher.DispatchOptions & { [CALL]: CallState };
      options[CALL] = this;
      if (body !== undefined) options.body = body;
      return options;
    }
    return body === undefined ? { ...this.#options, [CALL]: this } : { ...this.#options, body, [CALL]: this };
  }

  /** The first call of a service may come before the resolver's first answer: wait for it, inside the deadline. */
  #whenResolved(dispatch: Dispatcher.Dispatch, options: StageOptions): void {
    const pool = this.#settings.pool;
    if (pool === undefined || pool.resolved) return this.#send(dispatch, options);
    pool.ready(this.deadline, this.signal).then(
      () => this.#send(dispatch, options),
      (error: unknown) => this.#fail(error),
    );
  }

  #send(dispatch: Dispatcher.Dispatch, options: StageOptions): void {
    if (this.#state === DONE) return;
    this.#dispatched = true;
    try {
      dispatch(options, this);
    } catch (error) {
      this.onResponseError(null, error as Error);
    }
  }

  /**
   * Starts listening to the caller's signal and watching the request being handled. Returns
   * why the call is cancelled already, if it is (then nothing is left to undo for that link).
   */
  #link(): Error | undefined {
    const signal = this.callerSignal;
    if (signal !== undefined) {
      if (signal.aborted) return abortError(signal);
      // The handler is the listener (`handleEvent`): no closure per call.
      signal.addEventListener('abort', this, { once: true });
      this.#listening = true;
    }
    const inbound = this.#watched;
    if (inbound !== undefined) {
      const reason = inbound.watch!(this);
      if (reason !== undefined) {
        this.#watched = undefined; // not registered: nothing to unwatch
        return cancelledBy(reason);
      }
    }
    return undefined;
  }

  /** Stops listening and watching: the call has its outcome. */
  #unlink(): void {
    if (this.#listening) {
      this.#listening = false;
      this.callerSignal!.removeEventListener('abort', this);
    }
    const inbound = this.#watched;
    if (inbound !== undefined) {
      this.#watched = undefined;
      inbound.unwatch?.(this);
    }
  }

  /** The caller's signal fired. */
  handleEvent(): void {
    this.#listening = false; // `once`: already removed
    this.abort(abortError(this.callerSignal!));
  }

  /** The request being handled was cancelled (its caller went away, or its deadline passed). */
  onRequestAbort(reason: unknown): void {
    this.abort(cancelledBy(reason));
  }

  /** Ends the call with `reason` (the caller's abort, or the pipeline being destroyed). */
  protected override onAbort(reason: Error): void {
    if (this.#state === DONE) return;
    this.abortReason = reason;
    if (this.#dispatched) this.below?.abort(reason);
    else this.#fail(reason); // reading the body or waiting for discovery: nothing below would report
    // After the stages below have reported `reason`: what rejects the wait then comes too late to count.
    this.#waitController?.abort(reason);
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
    // Attempts whose answer was lost and that no replayed answer showed done: failures.
    if (this.lostAnswers !== undefined) settleLostAnswers(this, false);
    this.#settings.timer.cancel(this);
    this.#unlink();
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

/** A cancellation reason as the call's error: a Lifeline error as it is (the server's say best what happened), else `ABORTED` with it as the cause. */
function cancelledBy(reason: unknown): Error {
  if (isLifelineError(reason)) return reason;
  return withoutStack(() => new LifelineError('ABORTED', 'the call was aborted', { cause: reason, retryable: false }));
}

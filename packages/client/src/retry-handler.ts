import { LifelineError, withoutStack, type ResponseHeaders, type TimerTask } from '@lifeline/core';
import { RetryDecision, type GiveUpReason, type RetryInput } from '@lifeline/retry';
import type { Dispatcher } from 'undici';
import { CALL, type CallSettings, type CallState, type StageOptions } from './call-settings.ts';
import { retryChannel, type RetryMessage } from './diagnostics.ts';
import { HeldResponse } from './held-response.ts';
import { StageHandler } from './stage-handler.ts';

type Headers = Record<string, string | string[] | undefined>;

const WAITING = 0; // an attempt is out, no answer yet
const BACKOFF = 1; // waiting to retry (a retryable response may be held meanwhile)
const COMMITTED = 2; // this attempt's response is the call's answer: it passes through
const DONE = 3;

/** Read right after each decision: decide() is synchronous, so one object serves every call. */
const decision = new RetryDecision();

/**
 * The retry stage of one call: after each failed attempt a synchronous decision
 * ({@link RetryPolicy.decide}: retryable and safe to repeat, attempts left, the server's
 * wait, the deadline, the budget), the wait on the pipeline's coarse timer (this handler is
 * the timer entry), and the next attempt dispatched from the timer — no promise and no
 * closure per attempt. The handler is itself the decision's input, updated in place.
 *
 * A retryable response (a 503 with its body and Retry-After) is decided at its headers. When
 * a retry follows, the response is held (its body up to 64 KiB) until the next attempt is
 * on its way: if the breaker or the pool refuses that attempt, the held response is the
 * call's answer — the answer wins over the breaker, as it wins over the budget.
 *
 * @internal
 */
export class RetryHandler extends StageHandler implements RetryInput, TimerTask {
  timerAt = 0;
  timerNext: TimerTask | null = null;
  timerPrev: TimerTask | null = null;
  timerSlot = -1;

  // The decision's input.
  attempt = 1;
  status = 0;
  headers: ResponseHeaders | undefined = undefined;
  error: unknown = undefined;
  idempotent: boolean;
  replayable = true;
  remainingMs = Infinity;
  previousDelayMs = 0;
  /** The route stage holds this attempt's outcome (a keyed call's answer may have been lost): the budget hears of it later. */
  outcomeUnknown = false;

  readonly #settings: CallSettings;
  readonly #options: StageOptions;
  readonly #call: CallState;
  #dispatch: Dispatcher.Dispatch | undefined;
  #state = WAITING;
  /** A dispatch is under way: a refusal (no controller) reported now is this attempt's. */
  #sending = false;
  #refused = false;
  /** The response of the last attempt, while its retry is pending. */
  #held: HeldResponse | null = null;

  constructor(settings: CallSettings, options: StageOptions, upstream: Dispatcher.DispatchHandler) {
    super(upstream);
    this.#settings = settings;
    this.#options = options;
    this.#call = options[CALL];
    this.idempotent = this.#call.idempotent;
  }

  start(dispatch: Dispatcher.Dispatch): void {
    this.#dispatch = dispatch;
    this.upstream.onRequestStart?.(this, {});
    this.#settings.retry.recordCall();
    this.#send();
  }

  #send(): void {
    this.#call.attempt = this.attempt;
    this.#state = WAITING;
    this.#sending = true;
    this.#refused = false;
    try {
      this.#dispatch!(this.#options, this);
    } catch (error) {
      this.onResponseError(null, error as Error);
    }
    this.#sending = false;
    // The next attempt is on its way: the response held for it is no longer needed.
    if (!this.#refused) this.#dropHeld();
  }

  override onResponseStart(controller: Dispatcher.DispatchController, status: number, headers: Headers, statusText?: string): void {
    if (controller !== this.below || this.#state !== WAITING) return;
    this.status = status;
    this.headers = headers;
    this.error = undefined;
    this.outcomeUnknown = false;
    const answer = this.#decide();
    if (!answer.retry) {
      this.#state = COMMITTED;
      this.upstream.onResponseStart?.(this, status, headers, statusText);
      return;
    }
    this.#dropHeld();
    this.#held = new HeldResponse(controller, status, headers, statusText ?? '');
    this.#wait(answer.delayMs);
  }

  override onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (controller === this.below && this.#state === COMMITTED) {
      this.upstream.onResponseData?.(this, chunk);
    } else if (controller === this.#held?.controller) {
      this.#held.push(chunk);
    }
  }

  override onResponseEnd(controller: Dispatcher.DispatchController, trailers: Headers): void {
    if (controller === this.below && this.#state === COMMITTED) {
      this.#state = DONE;
      this.upstream.onResponseEnd?.(this, trailers);
    } else if (controller === this.#held?.controller) {
      this.#held.end(trailers);
    }
  }

  override onResponseError(controller: Dispatcher.DispatchController | null, error: Error): void {
    if (controller === null) {
      // Refused before it was sent (an open breaker, no endpoint): a held response is the answer.
      if (!this.#sending || this.#state !== WAITING) return;
      this.#refused = true;
      if (this.#held !== null && !this.#held.failed) return this.#replay();
    } else if (controller === this.#held?.controller) {
      this.#held.failed = true;
      return;
    } else if (controller !== this.below) {
      return;
    }
    if (this.#state === COMMITTED) {
      this.#state = DONE;
      this.upstream.onResponseError?.(this, error);
      return;
    }
    if (this.#state !== WAITING) return;
    this.status = 0;
    this.headers = undefined;
    this.error = error;
    const lost = this.#call.lostAnswers;
    this.outcomeUnknown = lost !== undefined && lost[lost.length - 1]!.attempt === this.attempt;
    const answer = this.#decide();
    if (answer.retry) return this.#wait(answer.delayMs);
    this.#state = DONE;
    this.#dropHeld();
    this.upstream.onResponseError?.(this, answer.reason === 'budget' ? budgetExhausted(error, this.attempt) : error);
  }

  /** The backoff is over: the next attempt. */
  onTimer(): void {
    if (this.#state !== BACKOFF) return;
    this.attempt++;
    this.#send();
  }

  protected override onAbort(reason: Error): void {
    if (this.#state === BACKOFF) {
      // Between attempts nothing below would report: end the call here.
      this.#settings.timer.cancel(this);
      this.#state = DONE;
      this.#dropHeld();
      this.upstream.onResponseError?.(this, reason);
      return;
    }
    this.below?.abort(reason);
  }

  #decide(): RetryDecision {
    const call = this.#call;
    this.replayable = call.replayable;
    this.remainingMs = call.deadline.remaining();
    const answer = this.#settings.retry.decide(this, decision);
    const span = call.trace.span;
    if (answer.retry) {
      this.#settings.telemetry.retried(span, this.attempt, answer.delayMs, this.status, this.error);
      if (retryChannel.hasSubscribers) {
        const message: RetryMessage = { service: call.service, attempt: this.attempt, delayMs: answer.delayMs, status: this.status, error: this.error };
        retryChannel.publish(message);
      }
    } else if (answer.reason !== 'answer' && answer.reason !== 'aborted') this.#settings.telemetry.gaveUp(span, answer.reason as GiveUpReason, this.attempt);
    return answer;
  }

  #wait(delayMs: number): void {
    this.#state = BACKOFF;
    this.previousDelayMs = delayMs;
    this.#settings.timer.schedule(this, this.#settings.clock.now() + delayMs);
  }

  #dropHeld(): void {
    this.#held?.drop();
    this.#held = null;
  }

  /** Makes the held response the call's answer. */
  #replay(): void {
    const held = this.#held!;
    this.#held = null;
    this.#state = COMMITTED;
    this.setBelow(held.controller);
    held.replay(this.upstream, this, () => this.#state === COMMITTED);
    if (held.ended && this.#state === COMMITTED) this.#state = DONE;
  }
}

/** The budget refused a warranted retry: the failure is kept as the cause. */
function budgetExhausted(cause: unknown, attempt: number): LifelineError {
  return withoutStack(
    () =>
      new LifelineError('RETRY_BUDGET_EXHAUSTED', 'retry budget exhausted: a retry was warranted but not allowed', {
        cause,
        retryable: false,
        attempts: attempt,
      }),
  );
}

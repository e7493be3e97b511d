import {
  checkDuration,
  checkFunction,
  checkInteger,
  checkOptionNames,
  checkRatio,
  EventEmitter,
  HttpStatusError,
  isLifelineError,
  optionNames,
  withoutStack,
  type Event,
  type Policy,
  type PolicyContext,
  type ResponseHeaders,
} from '@lifeline/core';
import { ExponentialBackoff, type Backoff } from './backoff.ts';
import { isConnectFailure, isRetryable, isTransientStatus } from './classify.ts';
import { executeWithRetries } from './execute.ts';
import { RetryBudget, type RetryBudgetOptions } from './retry-budget.ts';
import { RetryDecision, requestedWaitMs, stopped, type GiveUpReason, type RetryInput } from './retry-decision.ts';
import type { GiveUpEvent, RetryEvent, RetryExecuteOptions } from './retry-events.ts';

export interface RetryPolicyOptions {
  /** Attempts in total, the first included. Default 3. */
  maxAttempts?: number;
  /** Default: exponential from 100 ms, capped at 5 s, full jitter. */
  backoff?: Backoff;
  /**
   * The retry budget this policy draws from: a `RetryBudget` to share one between
   * policies, options to make one, or `false` for none. Default: 20 % + 10/s over 10 s,
   * while a token bucket of 10 fed by successes (0.1 each) is more than half full.
   */
  budget?: RetryBudget | RetryBudgetOptions | false;
  /**
   * Which failures to retry. Default {@link isRetryable}. A retryable response status
   * reaches it as an `HttpStatusError` (built only when a predicate of your own is set).
   */
  shouldRetry?: (error: unknown, attempt: number) => boolean;
  /**
   * The shortest useful attempt, ms. A retry whose backoff plus this does not fit in the
   * remaining deadline is not made: it could only fail later, at the deadline. Default 50.
   */
  minAttemptTime?: number;
  /**
   * The longest server-requested wait (`Retry-After`, `RateLimit`) this policy will honour,
   * ms. A server asking for longer is not retried early against its wish: the call fails
   * with the server's wait in `retryAfterMs`. Default 10 000.
   */
  maxServerDelay?: number;
  /** Extra random fraction added to a server's wait so clients told the same time spread out. Default 0.2. */
  serverDelayJitter?: number;
  /** Source of randomness in [0, 1) for the server-wait jitter, for tests. */
  random?: () => number;
}

const RETRY_OPTIONS = optionNames<RetryPolicyOptions>({ maxAttempts: true, backoff: true, budget: true, shouldRetry: true, minAttemptTime: true, maxServerDelay: true, serverDelayJitter: true, random: true });

/** The longest wait a Node timer can hold (longer ones fire after 1 ms). */
const MAX_WAIT_MS = 2 ** 31 - 1;
const IDEMPOTENT = { idempotent: true } as const;
const NOT_IDEMPOTENT = { idempotent: false } as const;

/**
 * Retries transient failures with backoff, inside a retry budget and a deadline. Each
 * retry must pass, in order: the failure is retryable and safe to repeat, the attempt
 * limit, the server's requested wait (honoured, capped, jittered), the deadline (the wait
 * plus a minimal attempt must fit), and the budget (a token, or no retry at once — never a
 * wait).
 *
 * Two ways to drive it, one decision: {@link RetryPolicy.decide} answers synchronously for
 * one failed attempt (an HTTP client's retry stage calls it and schedules the wait itself),
 * and {@link RetryPolicy.execute} runs any async function under p-retry's loop, asking
 * decide() after every failure — so the two cannot disagree.
 *
 * @example
 * const retry = new RetryPolicy({ maxAttempts: 3, budget: { ratio: 0.2 } });
 * const user = await retry.execute(({ signal }) => fetchUser(id, signal), { deadline: Deadline.after(2_000) });
 */
export class RetryPolicy implements Policy {
  readonly maxAttempts: number;
  readonly budget: RetryBudget | undefined;
  readonly #backoff: Backoff;
  readonly #shouldRetry: (error: unknown, attempt: number) => boolean;
  /** A predicate of the caller's: a retryable status must be shown to it (as an error). */
  readonly #ownPredicate: boolean;
  readonly #minAttemptTime: number;
  readonly #maxServerDelay: number;
  readonly #serverJitter: number;
  readonly #random: () => number;
  readonly #onRetry = new EventEmitter<RetryEvent>();
  readonly #onGiveUp = new EventEmitter<GiveUpEvent>();

  /** Fires before each retry's wait, whoever drives the policy (decide() fires it). */
  readonly onRetry: Event<RetryEvent> = this.#onRetry.event;
  /** Fires when a failed attempt is final, with the reason no retry followed (not on an abort: the caller stopped, not the policy). */
  readonly onGiveUp: Event<GiveUpEvent> = this.#onGiveUp.event;

  constructor(options: RetryPolicyOptions = {}) {
    checkOptionNames('retry', options, RETRY_OPTIONS);
    this.maxAttempts = checkInteger('retry.maxAttempts', options.maxAttempts ?? 3, 1, 100);
    this.#backoff = options.backoff ?? new ExponentialBackoff();
    if (typeof this.#backoff.next !== 'function') {
      throw new TypeError('lifeline: option `retry.backoff` must have a next(retry, previous) method');
    }
    const budget = options.budget ?? {};
    this.budget = budget === false ? undefined : budget instanceof RetryBudget ? budget : new RetryBudget(budget);
    this.#shouldRetry = checkFunction('retry.shouldRetry', options.shouldRetry ?? isRetryable);
    this.#ownPredicate = this.#shouldRetry !== isRetryable;
    this.#minAttemptTime = checkDuration('retry.minAttemptTime', options.minAttemptTime ?? 50);
    // A wait past what a timer can hold would fire at once: no server can be obeyed that long.
    this.#maxServerDelay = Math.min(MAX_WAIT_MS, checkDuration('retry.maxServerDelay', options.maxServerDelay ?? 10_000, true));
    this.#serverJitter = checkRatio('retry.serverDelayJitter', options.serverDelayJitter ?? 0.2);
    this.#random = checkFunction('retry.random', options.random ?? Math.random);
  }

  /**
   * Runs `fn` until it succeeds or {@link decide} says stop, on p-retry's loop: after each
   * failure, decide() is asked (with the deadline's remaining time and the signal's state),
   * and its wait is slept (the process is held open, as a call's socket would hold it).
   * The call counts once in the budget. When the answer is stop, the call rejects with the
   * last failure as thrown — or `RETRY_BUDGET_EXHAUSTED` (the failure as its `cause`) when
   * the budget refused, or `ABORTED` when the signal aborted.
   *
   * @example
   * const rows = await retry.execute(({ attempt, signal }) => db.query(sql, { signal }), { deadline: Deadline.after(2_000) });
   */
  execute<T>(fn: (context: PolicyContext) => PromiseLike<T> | T, options: RetryExecuteOptions = {}): Promise<T> {
    return executeWithRetries(this, fn, options);
  }

  /**
   * Counts one logical call in the retry budget (the ratio's denominator). Call it once per
   * call, before its first attempt, when driving {@link decide} yourself; execute() does.
   *
   * @example policy.recordCall(); // a new request enters the retry stage
   */
  recordCall(): void {
    this.budget?.recordRequest();
  }

  /**
   * Reports an attempt that succeeded without passing through {@link decide} — the budget
   * refills on successes. decide() reports every outcome it is shown (a response that is
   * the answer is a success), so only a caller that asks decide() about failures alone
   * needs this; execute() calls it when `fn` resolves.
   *
   * @example
   * const rows = await db.query(sql); // succeeded: no decision to ask for
   * policy.recordSuccess();
   */
  recordSuccess(): void {
    this.budget?.recordSuccess();
  }

  /**
   * Reports an attempt that failed without passing through {@link decide}, or one decide()
   * was shown with `outcomeUnknown` that turned out a failure: it drains the budget as a
   * failure decide() saw would have.
   *
   * @example
   * policy.recordFailure(); // the answer lost on the way back was never shown to be a success
   */
  recordFailure(): void {
    this.budget?.recordFailure();
  }

  /**
   * Decides, synchronously, what follows one failed attempt: retry after `delayMs`, or stop
   * and why. Nothing is awaited, nothing is scheduled: the caller waits (on a shared coarse
   * timer, say) and makes the next attempt. The rules, in order:
   *
   * 1. `aborted` → stop (`aborted`).
   * 2. A response whose status is not a transient failure for this call (anything but 429,
   *    502, 503, 504, and 500 when idempotent) → stop (`answer`): it is the call's answer.
   *    This is the common path and it reads no header and allocates nothing.
   * 3. A failure that cannot be sent again (`replayable: false`), or that the server may have
   *    acted on while the call is not idempotent (anything but a connect failure), or that
   *    the predicate (`shouldRetry`) refuses → `not-retryable`.
   * 4. The attempt was the last (`maxAttempts`) → `attempts`.
   * 5. The server's wait (`Retry-After`, else an exhausted `RateLimit`, parsed here once and
   *    returned as `retryAfterMs`) is longer than `maxServerDelay` → `server-delay`.
   * 6. The wait is the backoff, or the server's wait jittered upwards when longer; when
   *    it plus `minAttemptTime` does not fit in `remainingMs` → `deadline`.
   * 7. The budget has no retry left → `budget`. Only here, on a retry, is a retry taken
   *    from the window.
   *
   * Every outcome shown is also reported to the budget's token bucket: a response that is
   * the answer is a success (a 500 excepted), a retryable status or an error the predicate
   * would retry is a failure (whatever the rest of the decision), an abort is neither.
   *
   * The policy's `onRetry` and `onGiveUp` events are fired here (when something listens),
   * so they mean the same whether execute() or an interceptor drives the policy; a caller's
   * per-call reactions (telemetry on its own span, a per-call hook) read the returned
   * decision. No event for `answer` or `aborted`: nothing was given up.
   *
   * Pass `into` to have the answer written there (zero allocation); without it, a stop
   * without a server wait is a shared frozen constant and anything else a new object.
   *
   * How an undici interceptor's retry stage uses it: one handler per call that is itself
   * the input (its fields updated in place), one decision object reused for every attempt,
   * the wait on the client's shared `CoarseTimer` (the handler is the timer task), the next
   * attempt dispatched from the timer — no promise, no closure per attempt:
   *
   * @example
   * class RetryHandler implements Dispatcher.DispatchHandler, RetryInput, TimerTask {
   *   attempt = 1; status = 0; headers: ResponseHeaders | undefined = undefined; error: unknown = undefined;
   *   remainingMs = Infinity; previousDelayMs = 0; aborted = false;
   *   readonly decision = new RetryDecision();
   *   timerAt = 0; timerNext = null; timerPrev = null; timerSlot = -1;
   *   constructor(
   *     readonly stage: RetryStage, // { policy, timer, clock, dispatch }
   *     readonly opts: Dispatcher.DispatchOptions,
   *     readonly next: Dispatcher.DispatchHandler,
   *     readonly deadline: Deadline,
   *     readonly idempotent: boolean, // an idempotent method, or an Idempotency-Key header
   *     readonly replayable: boolean, // a body that can be sent again
   *   ) {
   *     stage.policy.recordCall(); // once per call: the budget's denominator
   *   }
   *   onResponseStart(controller, status, headers, statusText) {
   *     this.status = status; this.headers = headers; this.remainingMs = this.deadline.remaining();
   *     const decision = this.stage.policy.decide(this, this.decision);
   *     if (!decision.retry) {
   *       // 'answer', or a final 503: the response goes on; decision.retryAfterMs is already parsed.
   *       return this.next.onResponseStart?.(controller, status, headers, statusText);
   *     }
   *     controller.abort(DISCARDED); // this response is dropped: another attempt follows
   *     this.#wait(decision.delayMs);
   *   }
   *   onResponseError(controller, error) {
   *     this.status = 0; this.error = error; this.remainingMs = this.deadline.remaining();
   *     const decision = this.stage.policy.decide(this, this.decision);
   *     if (decision.retry) this.#wait(decision.delayMs);
   *     else this.next.onResponseError?.(controller, decision.reason === 'budget' ? budgetExhausted(error) : error);
   *   }
   *   #wait(delayMs: number) {
   *     this.previousDelayMs = delayMs;
   *     this.stage.timer.schedule(this, this.stage.clock.now() + delayMs);
   *   }
   *   onTimer() {
   *     this.attempt++;
   *     this.stage.dispatch(this.opts, this);
   *   }
   * }
   */
  decide(input: RetryInput, into?: RetryDecision): RetryDecision {
    if (input.aborted === true) return stopped(into, 'aborted', undefined);
    const attempt = input.attempt;
    const idempotent = input.idempotent !== false;
    const status = input.status ?? 0;
    let error: unknown = undefined;
    let serverWait: number | undefined;
    const budget = this.budget;
    if (status !== 0) {
      if (!isTransientStatus(status, idempotent ? IDEMPOTENT : NOT_IDEMPOTENT)) {
        // A 500 to a call that is not idempotent is its answer, but still a failing dependency.
        if (status === 500) budget?.recordFailure();
        else budget?.recordSuccess();
        return stopped(into, 'answer', undefined);
      }
      budget?.recordFailure();
      const headers = input.headers;
      serverWait = waitOf(input.retryAfterMs) ?? (headers === undefined ? undefined : requestedWaitMs(headers));
      if (!idempotent || input.replayable === false || (this.#ownPredicate && !this.#shouldRetry(statusError(status, headers, serverWait), attempt))) {
        return this.#giveUp(into, 'not-retryable', input, serverWait);
      }
    } else {
      error = input.error;
      serverWait = waitOf(input.retryAfterMs) ?? waitOf((error as { retryAfterMs?: unknown } | null | undefined)?.retryAfterMs);
      // The predicate is asked even when the call cannot be retried: a failure it would
      // retry (a reset, a timeout) says the dependency is failing, one it would not (a bug
      // in the caller's code) says nothing about it and must not drain the budget.
      const retryable = this.#shouldRetry(error, attempt);
      if (retryable && input.outcomeUnknown !== true) budget?.recordFailure();
      if (input.replayable === false || (!idempotent && !nothingSent(error)) || !retryable) {
        return this.#giveUp(into, 'not-retryable', input, serverWait);
      }
    }
    if (attempt >= this.maxAttempts) return this.#giveUp(into, 'attempts', input, serverWait);
    let delay = this.#backoff.next(attempt, input.previousDelayMs ?? 0);
    if (serverWait !== undefined) {
      if (serverWait > this.#maxServerDelay) return this.#giveUp(into, 'server-delay', input, serverWait);
      if (serverWait > 0) delay = Math.max(delay, serverWait * (1 + this.#random() * this.#serverJitter));
    }
    // A broken custom backoff (NaN, negative, beyond a timer) must not make a retry loop spin.
    if (!(delay > 0)) delay = 0;
    else if (delay > MAX_WAIT_MS) delay = MAX_WAIT_MS;
    if (delay + this.#minAttemptTime > (input.remainingMs ?? Infinity)) return this.#giveUp(into, 'deadline', input, serverWait);
    if (budget !== undefined && !budget.tryAcquire()) return this.#giveUp(into, 'budget', input, serverWait);
    if (this.#onRetry.hasListeners) {
      const event: RetryEvent = { attempt, delay, error };
      if (status !== 0) event.status = status;
      this.#onRetry.emit(event);
    }
    const decision = into ?? new RetryDecision();
    decision.retry = true;
    decision.delayMs = delay;
    decision.reason = undefined;
    decision.retryAfterMs = serverWait;
    return decision;
  }

  #giveUp(into: RetryDecision | undefined, reason: GiveUpReason, input: RetryInput, serverWait: number | undefined): RetryDecision {
    if (this.#onGiveUp.hasListeners) {
      const status = input.status ?? 0;
      const event: GiveUpEvent = { reason, attempt: input.attempt, error: status === 0 ? input.error : undefined };
      if (status !== 0) event.status = status;
      this.#onGiveUp.emit(event);
    }
    return stopped(into, reason, serverWait);
  }
}

/** A usable wait: a number >= 0 (Infinity included: a server that never wants a retry). */
function waitOf(value: unknown): number | undefined {
  return typeof value === 'number' && value >= 0 ? value : undefined;
}

/** A failure to connect: the request never left, so even a non-idempotent call may try again. */
function nothingSent(error: unknown): boolean {
  return isLifelineError(error, 'CONNECT') || isConnectFailure(error);
}

/** What a predicate of the caller's sees for a retryable status: the error the client would raise. */
function statusError(status: number, headers: ResponseHeaders | undefined, retryAfterMs: number | undefined): HttpStatusError {
  return withoutStack(() => new HttpStatusError(status, headers ?? {}, '', { retryable: true, retryAfterMs }));
}

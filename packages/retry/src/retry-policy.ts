import pRetry from 'p-retry';
import {
  abortError,
  checkDuration,
  checkFunction,
  checkInteger,
  checkRatio,
  EventEmitter,
  LifelineError,
  sleep,
  withoutStack,
  type Event,
  type ExecuteOptions,
  type Policy,
  type PolicyContext, checkOptionNames, optionNames
} from '@lifeline/core';
import { ExponentialBackoff, type Backoff } from './backoff.ts';
import { isRetryable } from './classify.ts';
import { RetryBudget, type RetryBudgetOptions } from './retry-budget.ts';

export interface RetryPolicyOptions {
  /** Attempts in total, the first included. Default 3. */
  maxAttempts?: number;
  /** Default: exponential from 100 ms, capped at 5 s, full jitter. */
  backoff?: Backoff;
  /**
   * The retry budget this policy draws from: a `RetryBudget` to share one between
   * policies, options to make one, or `false` for none. Default: 20 % + 10/s over 10 s.
   */
  budget?: RetryBudget | RetryBudgetOptions | false;
  /** Which failures to retry. Default {@link isRetryable}. */
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
  random?: () => number;
}

const RETRY_OPTIONS = optionNames<RetryPolicyOptions>({ maxAttempts: true, backoff: true, budget: true, shouldRetry: true, minAttemptTime: true, maxServerDelay: true, serverDelayJitter: true, random: true });


/** A call waiting to retry is still in flight: its wait holds the process open, as its socket would. */
const IN_FLIGHT = { ref: true } as const;

/** Why a policy stopped retrying. */
export type GiveUpReason = 'not-retryable' | 'attempts' | 'deadline' | 'budget' | 'server-delay';

export interface RetryEvent {
  /** The attempt that failed. */
  attempt: number;
  /** The wait before the next attempt, ms. */
  delay: number;
  error: unknown;
}

export interface GiveUpEvent {
  reason: GiveUpReason;
  attempt: number;
  error: unknown;
}

/** {@link RetryPolicy.execute}'s options: the call's signal and deadline, and hooks for this call alone. */
export interface RetryExecuteOptions extends ExecuteOptions {
  /** Called before this call's retry waits (the policy's `onRetry` fires too). */
  onRetry?(event: RetryEvent): void;
  /** Called when this call's failed attempt is final (the policy's `onGiveUp` fires too). */
  onGiveUp?(event: GiveUpEvent): void;
}

/**
 * Retries transient failures with backoff, inside a retry budget and a deadline, on top
 * of p-retry's loop. Each retry must pass, in order: the predicate (a retryable failure),
 * the attempt limit, the server's requested wait (honoured, capped, jittered), the
 * deadline (the wait plus a minimal attempt must fit), and the budget (a token, or
 * `RETRY_BUDGET_EXHAUSTED` at once — never a wait).
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
  readonly #minAttemptTime: number;
  readonly #maxServerDelay: number;
  readonly #serverJitter: number;
  readonly #random: () => number;
  readonly #onRetry = new EventEmitter<RetryEvent>();
  readonly #onGiveUp = new EventEmitter<GiveUpEvent>();

  /** Fires before each retry's wait. */
  readonly onRetry: Event<RetryEvent> = this.#onRetry.event;
  /** Fires when a failed attempt is final, with the reason no retry followed. */
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
    this.#minAttemptTime = checkDuration('retry.minAttemptTime', options.minAttemptTime ?? 50);
    this.#maxServerDelay = checkDuration('retry.maxServerDelay', options.maxServerDelay ?? 10_000, true);
    this.#serverJitter = checkRatio('retry.serverDelayJitter', options.serverDelayJitter ?? 0.2);
    this.#random = checkFunction('retry.random', options.random ?? Math.random);
  }

  execute<T>(fn: (context: PolicyContext) => PromiseLike<T> | T, options: RetryExecuteOptions = {}): Promise<T> {
    const { signal, deadline } = options;
    if (signal?.aborted) return Promise.reject(abortError(signal));
    this.budget?.recordRequest();
    let previousDelay = 0;
    // The signal is not handed to p-retry: it would rethrow the bare abort reason. The
    // function watches the signal during an attempt; the backoff wait below does between.
    return pRetry((attempt) => fn({ attempt, signal, deadline }), {
      retries: this.maxAttempts - 1,
      // p-retry's own delay cannot do full jitter or honour a server's wait; ours runs in shouldRetry.
      minTimeout: 0,
      onFailedAttempt: ({ error, attemptNumber, retriesLeft }) => {
        if (retriesLeft === 0 && (this.#onGiveUp.hasListeners || options.onGiveUp !== undefined) && this.#shouldRetry(error, attemptNumber)) {
          this.#giveUp('attempts', attemptNumber, error, options);
        }
      },
      shouldRetry: async ({ error, attemptNumber }) => {
        if (signal?.aborted) throw abortError(signal);
        const delay = this.#delayBeforeRetry(error, attemptNumber, previousDelay, options);
        if (delay === undefined) return false;
        previousDelay = delay;
        if (this.#onRetry.hasListeners || options.onRetry !== undefined) {
          const event: RetryEvent = { attempt: attemptNumber, delay, error };
          options.onRetry?.(event);
          if (this.#onRetry.hasListeners) this.#onRetry.emit(event);
        }
        await sleep(delay, signal, IN_FLIGHT);
        return true;
      },
    });
  }

  /** The wait before the next attempt, or undefined when there must be none. Throws when the budget is out. */
  #delayBeforeRetry(error: unknown, attempt: number, previous: number, options: RetryExecuteOptions): number | undefined {
    if (!this.#shouldRetry(error, attempt)) return this.#giveUp('not-retryable', attempt, error, options);
    let delay = this.#backoff.next(attempt, previous);
    const serverWait = (error as { retryAfterMs?: unknown } | null)?.retryAfterMs;
    if (typeof serverWait === 'number' && serverWait > 0) {
      if (serverWait > this.#maxServerDelay) return this.#giveUp('server-delay', attempt, error, options);
      delay = Math.max(delay, serverWait * (1 + this.#random() * this.#serverJitter));
    }
    const deadline = options.deadline;
    if (deadline !== undefined && delay + this.#minAttemptTime > deadline.remaining()) {
      return this.#giveUp('deadline', attempt, error, options);
    }
    if (this.budget !== undefined && !this.budget.tryAcquire()) {
      this.#giveUp('budget', attempt, error, options);
      throw withoutStack(
        () =>
          new LifelineError('RETRY_BUDGET_EXHAUSTED', 'retry budget exhausted: a retry was warranted but not allowed', {
            cause: error,
            retryable: false,
            attempts: attempt,
          }),
      );
    }
    return delay;
  }

  #giveUp(reason: GiveUpReason, attempt: number, error: unknown, options: RetryExecuteOptions): undefined {
    if (this.#onGiveUp.hasListeners || options.onGiveUp !== undefined) {
      const event: GiveUpEvent = { reason, attempt, error };
      options.onGiveUp?.(event);
      if (this.#onGiveUp.hasListeners) this.#onGiveUp.emit(event);
    }
    return undefined;
  }
}

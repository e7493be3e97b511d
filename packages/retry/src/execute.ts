import pRetry, { AbortError } from 'p-retry';
import { abortError, LifelineError, sleep, withoutStack, type PolicyContext } from '@lifeline/core';
import { RetryDecision, type RetryInput } from './retry-decision.ts';
import type { RetryExecuteOptions } from './retry-events.ts';
import type { RetryPolicy } from './retry-policy.ts';

/** A call waiting to retry is still in flight: its wait holds the process open, as its socket would. */
const IN_FLIGHT = { ref: true } as const;

/**
 * Carries what an attempt threw through p-retry. p-retry has rules of its own — it never
 * retries a `TypeError` it does not recognise as a network error, and turns a thrown
 * non-Error into a `TypeError` — which would overrule decide() (a predicate that retries
 * such a failure would see its retry refused after the budget had paid for it). Wrapped,
 * every failure reaches `onFailedAttempt`, where decide() alone answers, and the caller
 * gets back exactly what `fn` threw.
 */
class Failed extends Error {
  readonly thrown: unknown;
  constructor(thrown: unknown) {
    super('attempt failed');
    this.thrown = thrown;
  }
}

function carry(thrown: unknown): never {
  // p-retry's own AbortError keeps its meaning: stop now, no decision, rejected unwrapped.
  if (thrown instanceof AbortError) throw thrown;
  throw withoutStack(() => new Failed(thrown));
}

/**
 * {@link RetryPolicy.execute}: p-retry is the loop, and after every failure
 * {@link RetryPolicy.decide} is the only judge of whether and when another attempt runs.
 * p-retry's own limit (`retries`) is set to the same attempt count as a backstop, and its
 * own delay to 0: the wait is decide()'s, slept in `onFailedAttempt`.
 *
 * @internal
 */
export function executeWithRetries<T>(
  policy: RetryPolicy,
  fn: (context: PolicyContext) => PromiseLike<T> | T,
  options: RetryExecuteOptions,
): Promise<T> {
  const { signal, deadline } = options;
  if (signal?.aborted) return Promise.reject(abortError(signal));
  policy.recordCall();
  const input: RetryInput = { attempt: 0, error: undefined, remainingMs: Infinity, previousDelayMs: 0, aborted: false };
  const decision = new RetryDecision();
  const succeeded = (value: T): T => {
    policy.recordSuccess();
    return value;
  };
  // The signal is not handed to p-retry: it would reject with the bare abort reason. `fn`
  // watches the signal during an attempt; decide() and the wait below do between attempts.
  return pRetry(
    (attempt) => {
      let result: PromiseLike<T> | T;
      try {
        result = fn({ attempt, signal, deadline });
      } catch (thrown) {
        carry(thrown);
      }
      if (isPromiseLike(result)) return Promise.resolve(result).then(succeeded, carry);
      policy.recordSuccess();
      return result;
    },
    {
      retries: policy.maxAttempts - 1,
      minTimeout: 0,
      onFailedAttempt: async ({ error: failed, attemptNumber }) => {
        const error = (failed as Failed).thrown;
        input.attempt = attemptNumber;
        input.error = error;
        input.remainingMs = deadline === undefined ? Infinity : deadline.remaining();
        input.aborted = signal?.aborted === true;
        policy.decide(input, decision);
        if (decision.retry) {
          const delay = decision.delayMs;
          options.onRetry?.({ attempt: attemptNumber, delay, error });
          input.previousDelayMs = delay;
          await sleep(delay, signal, IN_FLIGHT);
          return;
        }
        const reason = decision.reason!;
        if (reason === 'aborted') throw abortError(signal!);
        if (reason !== 'answer') options.onGiveUp?.({ reason, attempt: attemptNumber, error });
        if (reason === 'budget') throw budgetExhausted(error, attemptNumber);
        throw error;
      },
    },
  );
}

function budgetExhausted(cause: unknown, attempts: number): LifelineError {
  return withoutStack(
    () =>
      new LifelineError('RETRY_BUDGET_EXHAUSTED', 'retry budget exhausted: a retry was warranted but not allowed', {
        cause,
        retryable: false,
        attempts,
      }),
  );
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

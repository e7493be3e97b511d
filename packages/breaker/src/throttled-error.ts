import { errorHasInstance, LifelineError } from '@lifeline/core';

/**
 * `THROTTLED`: an {@link AdaptiveThrottle} rejected the attempt locally — the dependency has
 * been accepting less than 1/K of recent attempts, so this one was never sent. Not
 * retryable: a retry would meet the same throttle. `retryAfterMs` is the time until the
 * throttle's window next moves (its bucket length). Built without a stack: it is an
 * expected, frequent rejection.
 *
 * @example
 * try { await throttle.execute(() => search(query)); }
 * catch (error) { if (error instanceof ThrottledError) return cachedResults(query); throw error; }
 */
export class ThrottledError extends LifelineError {
  /**
   * True for a `THROTTLED` error from any copy of @lifeline/breaker (the `Symbol.for`
   * marker, as `isThrottled` checks), and for no other code.
   *
   * @example if (error instanceof ThrottledError) reply.code(503);
   */
  static override [Symbol.hasInstance](instance: unknown): boolean {
    return errorHasInstance(ThrottledError, this, instance, 'THROTTLED');
  }

  /** The probability attempts were rejected with when this one was. */
  readonly probability: number;

  constructor(service: string, probability: number, retryAfterMs: number) {
    super('THROTTLED', `${service}: attempt rejected locally by adaptive throttling (the dependency accepts too few attempts)`, {
      retryable: false,
      retryAfterMs,
      service,
    });
    this.probability = probability;
  }
}

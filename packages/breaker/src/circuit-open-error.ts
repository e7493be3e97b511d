import { errorHasInstance, LifelineError } from '@lifeline/core';

/**
 * `CIRCUIT_OPEN`: the breaker is failing calls fast. `retryAfterMs` says when it will let
 * probes through (undefined while forced open or while its probes are busy), so a server
 * can answer 503 with a `Retry-After`. `CircuitBreaker` builds it without a stack: it is an expected,
 * frequent rejection.
 *
 * @example
 * try { await breaker.execute(() => charge(order)); }
 * catch (error) { if (error instanceof CircuitOpenError) return queueForLater(order); throw error; }
 */
export class CircuitOpenError extends LifelineError {
  /**
   * True for a `CIRCUIT_OPEN` error from any copy of @lifeline/breaker (the `Symbol.for`
   * marker, as `isCircuitOpen` checks), and for no other code.
   *
   * @example if (error instanceof CircuitOpenError) reply.header('retry-after', Math.ceil((error.retryAfterMs ?? 1_000) / 1_000));
   */
  static override [Symbol.hasInstance](instance: unknown): boolean {
    return errorHasInstance(CircuitOpenError, this, instance, 'CIRCUIT_OPEN');
  }

  /** The breaker's name (an endpoint, a dependency). */
  readonly breaker: string;

  constructor(breaker: string, message: string, retryAfterMs: number | undefined) {
    super('CIRCUIT_OPEN', message, { retryable: false, retryAfterMs, service: breaker });
    this.breaker = breaker;
  }
}

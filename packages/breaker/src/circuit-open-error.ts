import { LifelineError } from '@lifeline/core';

/**
 * `CIRCUIT_OPEN`: the breaker is failing calls fast. `retryAfterMs` says when it will let
 * probes through (undefined while forced open or while its probes are busy), so a server
 * can answer 503 with a `Retry-After`.
 */
export class CircuitOpenError extends LifelineError {
  /** The breaker's name (an endpoint, a dependency). */
  readonly breaker: string;

  constructor(breaker: string, message: string, retryAfterMs: number | undefined) {
    super('CIRCUIT_OPEN', message, { retryable: false, retryAfterMs, service: breaker });
    this.breaker = breaker;
  }
}

import { CircuitOpenError } from '@lifeline/breaker';
import { LifelineError } from '@lifeline/core';
import type { Endpoint } from './endpoint.ts';
import type { ResolverState } from './instance.ts';

/**
 * Why a pool's `pick()` found nothing: `NO_ENDPOINTS` (saying whether the resolver has not
 * answered, lists no instance, or failed), or `CIRCUIT_OPEN` with the time until the first
 * endpoint's break ends when every endpoint is failing. With health checks every
 * `checkIntervalMs`, a break may end at the next check, so no wait is longer than that (an
 * endpoint forced open is not checked): a caller that waits as long as `retryAfterMs` says
 * (an outbox) is back within a check of the dependency's recovery, not when a break that grew
 * during the fault ends.
 *
 * @internal
 */
export function unavailableError(
  service: string,
  source: string,
  endpoints: readonly Endpoint[],
  state: ResolverState | undefined,
  checkIntervalMs?: number,
): LifelineError {
  if (endpoints.length === 0) {
    const why =
      state === undefined
        ? `the ${source} resolver has not answered yet`
        : state.error === undefined
          ? `the ${source} resolver lists no instance`
          : `${state.error.message}`;
    return new LifelineError('NO_ENDPOINTS', `${service}: no endpoints: ${why}`, { retryable: false, service });
  }
  let retryAfter: number | undefined;
  for (const e of endpoints) {
    let wait = e.breaker.snapshot().halfOpenInMs;
    if (wait !== undefined && checkIntervalMs !== undefined && !e.forced && wait > checkIntervalMs) wait = checkIntervalMs;
    if (wait !== undefined && (retryAfter === undefined || wait < retryAfter)) retryAfter = wait;
  }
  return new CircuitOpenError(
    service,
    `${service}: circuit open: all ${endpoints.length} endpoints are failing`,
    retryAfter === undefined ? undefined : Math.ceil(retryAfter),
  );
}

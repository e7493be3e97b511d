import type { HttpStatusError } from './http-status-error.ts';
import { isLifelineError, type LifelineError } from './errors.ts';

/** @example if (isDeadlineExceeded(error)) reply.code(504); */
export const isDeadlineExceeded = (e: unknown): e is LifelineError => isLifelineError(e, 'DEADLINE_EXCEEDED');
/** @example if (isAttemptTimeout(error)) metrics.timeouts.add(1); */
export const isAttemptTimeout = (e: unknown): e is LifelineError => isLifelineError(e, 'ATTEMPT_TIMEOUT');
/** @example if (isCircuitOpen(error)) reply.header('retry-after', Math.ceil(error.retryAfterMs / 1000)); */
export const isCircuitOpen = (e: unknown): e is LifelineError => isLifelineError(e, 'CIRCUIT_OPEN');
/** @example if (isBulkheadRejected(error)) reply.code(503); */
export const isBulkheadRejected = (e: unknown): e is LifelineError => isLifelineError(e, 'BULKHEAD_REJECTED');
/** @example if (isRetryBudgetExhausted(error)) log.warn('retry budget exhausted'); */
export const isRetryBudgetExhausted = (e: unknown): e is LifelineError =>
  isLifelineError(e, 'RETRY_BUDGET_EXHAUSTED');
/** @example if (isThrottled(error)) return cached(); // the dependency is overloaded: nothing was sent */
export const isThrottled = (e: unknown): e is LifelineError => isLifelineError(e, 'THROTTLED');
/** @example if (isNoEndpoints(error)) return cached(); */
export const isNoEndpoints = (e: unknown): e is LifelineError => isLifelineError(e, 'NO_ENDPOINTS');
/** @example if (isHttpStatusError(error) && error.status === 404) return null; */
export const isHttpStatusError = (e: unknown): e is HttpStatusError => isLifelineError(e, 'HTTP_STATUS');
/** @example if (isConnectError(error)) console.log('never sent'); */
export const isConnectError = (e: unknown): e is LifelineError => isLifelineError(e, 'CONNECT');
/** @example if (isSocketError(error)) console.log('connection lost mid-call'); */
export const isSocketError = (e: unknown): e is LifelineError => isLifelineError(e, 'SOCKET');
/** @example if (isAborted(error)) return; // the caller gave up */
export const isAborted = (e: unknown): e is LifelineError => isLifelineError(e, 'ABORTED');

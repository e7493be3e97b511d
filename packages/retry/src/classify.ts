import { isLifelineError } from '@lifeline/core';

/**
 * Error codes (Node's and undici's) of failures that happened before the request could
 * have left this process: nothing was sent, so retrying is safe for any method.
 */
const CONNECT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/**
 * Error codes of a connection that failed once the request may have been sent: a reset,
 * a peer that closed, a broken pipe, undici's own header/body timeouts. Transient, but
 * the server may have acted on the request, so only idempotent calls may repeat it.
 */
const SOCKET_CODES = new Set([
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
]);

/**
 * The `code` of an error or of the first cause that has one (fetch wraps network errors
 * in a `TypeError('fetch failed')` whose cause holds the code).
 *
 * @example errorCodeOf(new TypeError('fetch failed', { cause: { code: 'ECONNRESET' } })); // 'ECONNRESET'
 */
export function errorCodeOf(error: unknown): string | undefined {
  for (let e = error, depth = 0; depth < 5 && typeof e === 'object' && e !== null; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * True for a failure to connect: the request was never sent.
 *
 * @example isConnectFailure(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' })); // true
 */
export function isConnectFailure(error: unknown): boolean {
  const code = errorCodeOf(error);
  return code !== undefined && CONNECT_CODES.has(code);
}

/**
 * True for a transient network failure: a connect failure, a reset, a peer that closed,
 * a network-level timeout.
 *
 * @example isTransientNetworkError(Object.assign(new Error('reset'), { code: 'ECONNRESET' })); // true
 */
export function isTransientNetworkError(error: unknown): boolean {
  const code = errorCodeOf(error);
  return code !== undefined && (CONNECT_CODES.has(code) || SOCKET_CODES.has(code));
}

/**
 * Statuses worth retrying: 429 (rate limited — wait as told), 502/503/504 (a proxy or
 * the server could not answer now), and 500 only for idempotent calls, where a repeat can
 * do no harm. 501, 505 and the 4xx are answers, not accidents.
 *
 * @example isTransientStatus(500, { idempotent: false }); // false
 */
export function isTransientStatus(status: number, options: { idempotent: boolean }): boolean {
  switch (status) {
    case 429:
    case 502:
    case 503:
    case 504:
      return true;
    case 500:
      return options.idempotent;
    default:
      return false;
  }
}

/**
 * The default retry predicate: a Lifeline error says itself whether a retry is safe and
 * may help (`retryable`); any other error is retried only if it is a transient network
 * failure.
 *
 * @example new RetryPolicy({ shouldRetry: (e) => isRetryable(e) && !isMaintenance(e) });
 */
export function isRetryable(error: unknown): boolean {
  if (isLifelineError(error)) return error.retryable;
  return isTransientNetworkError(error);
}

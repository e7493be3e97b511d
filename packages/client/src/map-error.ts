import { isLifelineError, LifelineError } from '@lifeline/core';
import { isConnectFailure, isTransientNetworkError } from '@lifeline/retry';

/**
 * Turns what undici reports into a Lifeline error that says whether a retry is safe.
 * `canRetry` is whether the call may be repeated at all (idempotent or keyed, and its body
 * can be sent again). A connect failure is retryable even when it cannot: nothing was sent.
 * Errors that are not network failures (a bad header, a bug) pass through unchanged.
 *
 * @internal
 */
export function mapNetworkError(error: unknown, canRetry: boolean, replayable: boolean): unknown {
  if (isLifelineError(error)) return error;
  if (isConnectFailure(error)) {
    return new LifelineError('CONNECT', `connect failed: ${(error as Error).message}`, {
      cause: error,
      retryable: replayable,
    });
  }
  if (isTransientNetworkError(error)) {
    return new LifelineError('SOCKET', `connection failed: ${(error as Error).message}`, {
      cause: error,
      retryable: canRetry,
    });
  }
  return error;
}

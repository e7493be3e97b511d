import type { Dispatcher } from 'undici';
import type { CallSettings, StageOptions } from './call-settings.ts';
import { RetryHandler } from './retry-handler.ts';

/**
 * Repeats a call's attempts under the retry policy ({@link RetryHandler}): a synchronous
 * decision per failed attempt, the wait on the pipeline's coarse timer. A policy of one
 * attempt has nothing to decide, and the stage is left out.
 *
 * @example
 * const dispatch = retryStage(settings)(routeStage(settings)(attemptStage(settings)(poolDispatch)));
 * @internal
 */
export function retryStage(settings: CallSettings): Dispatcher.DispatchInterceptor {
  if (settings.retry.maxAttempts === 1) return (dispatch) => dispatch;
  return (dispatch) => (opts, handler) => {
    new RetryHandler(settings, opts as StageOptions, handler).start(dispatch);
    return true;
  };
}

import type { Limiter } from '@lifeline/bulkhead';
import type { Dispatcher } from 'undici';
import type { StageOptions } from './call-settings.ts';
import { LimiterHandler } from './limiter-handler.ts';

/**
 * Holds each call to a slot of the limiter (a bulkhead, a fleet-wide bulkhead, any
 * `Limiter`) from before its first attempt to its outcome ({@link LimiterHandler}). Without
 * a limiter the stage is left out.
 *
 * @example
 * const dispatch = limiterStage(new Bulkhead({ maxConcurrent: 10 }))(retryDispatch);
 * @internal
 */
export function limiterStage(limiter: Limiter | undefined): Dispatcher.DispatchInterceptor {
  if (limiter === undefined) return (dispatch) => dispatch;
  return (dispatch) => (opts, handler) => {
    new LimiterHandler(limiter, opts as StageOptions, handler).start(dispatch);
    return true;
  };
}

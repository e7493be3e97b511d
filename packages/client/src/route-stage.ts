import type { Dispatcher } from 'undici';
import { CALL, type CallSettings, type StageOptions } from './call-settings.ts';
import { RouteHandler } from './route-handler.ts';

/**
 * Routes each attempt: a discovered endpoint, or the request's origin through its breaker
 * ({@link RouteHandler}). With neither discovery nor a breaker there is nothing to decide,
 * and the stage is left out.
 *
 * @example
 * const dispatch = routeStage(settings)(attemptStage(settings)(poolDispatch));
 * @internal
 */
export function routeStage(settings: CallSettings): Dispatcher.DispatchInterceptor {
  if (settings.pool === undefined && settings.breaker === undefined && settings.breakers === undefined) return (dispatch) => dispatch;
  return (dispatch) => (opts, handler) => {
    const options = opts as StageOptions;
    new RouteHandler(settings, options[CALL], handler).start(dispatch, options);
    return true;
  };
}

import type { AdaptiveThrottle } from '@lifeline/breaker';
import type { Dispatcher } from 'undici';
import { CALL, type CallSettings, type StageOptions } from './call-settings.ts';
import { RouteHandler } from './route-handler.ts';

/**
 * Routes each attempt: past the dependency's adaptive throttle, then to a discovered
 * endpoint, or to the request's origin through its breaker ({@link RouteHandler}). With
 * no throttle, no discovery and no breaker there is nothing to decide, and the stage is
 * left out.
 *
 * @example
 * const dispatch = routeStage(settings, throttle)(attemptStage(settings)(poolDispatch));
 * @internal
 */
export function routeStage(settings: CallSettings, throttle: AdaptiveThrottle | undefined): Dispatcher.DispatchInterceptor {
  if (throttle === undefined && settings.pool === undefined && settings.breaker === undefined && settings.breakers === undefined) {
    return (dispatch) => dispatch;
  }
  return (dispatch) => (opts, handler) => {
    const options = opts as StageOptions;
    new RouteHandler(settings, throttle, options[CALL], handler).start(dispatch, options);
    return true;
  };
}

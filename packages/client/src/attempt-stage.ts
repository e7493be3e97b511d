import type { Dispatcher } from 'undici';
import { AttemptHandler } from './attempt-handler.ts';
import type { CallSettings, StageOptions } from './call-settings.ts';

/**
 * The last stage: each attempt goes on the wire with its time limit and wire headers, and
 * comes back classified ({@link AttemptHandler}).
 *
 * @example
 * const dispatch = attemptStage(settings)((opts, handler) => pool.dispatch(opts, handler));
 * @internal
 */
export function attemptStage(settings: CallSettings): Dispatcher.DispatchInterceptor {
  return (dispatch) => (opts, handler) => {
    new AttemptHandler(settings, opts as StageOptions, handler).start(dispatch);
    return true;
  };
}

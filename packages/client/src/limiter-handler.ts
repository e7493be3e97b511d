import type { LeaseOutcome, Limiter } from '@lifeline/bulkhead';
import type { Dispatcher } from 'undici';
import { CALL, type StageOptions } from './call-settings.ts';
import { StageHandler } from './stage-handler.ts';

type Headers = Record<string, string | string[] | undefined>;

/**
 * One call's slot in the limiter: taken at once when one is free (`tryAcquire`, no promise),
 * else waited for until the call's deadline (`acquire`, which may reject with
 * `BULKHEAD_REJECTED`), and given back exactly once when the call has its outcome. A call
 * aborted while it waits ends at once; a slot granted to it afterwards is given back.
 *
 * @internal
 */
export class LimiterHandler extends StageHandler {
  readonly #limiter: Limiter;
  readonly #options: StageOptions;
  #slot = false;
  #done = false;

  constructor(limiter: Limiter, options: StageOptions, upstream: Dispatcher.DispatchHandler) {
    super(upstream);
    this.#limiter = limiter;
    this.#options = options;
  }

  start(dispatch: Dispatcher.Dispatch): void {
    this.upstream.onRequestStart?.(this, {});
    const limiter = this.#limiter;
    if (limiter.tryAcquire()) {
      this.#slot = true;
      this.#send(dispatch);
      return;
    }
    const call = this.#options[CALL];
    limiter.acquire({ deadline: call.deadline, signal: call.signal, priority: call.priority }).then(
      () => {
        if (this.#done) return limiter.release();
        this.#slot = true;
        this.#send(dispatch);
      },
      (error: unknown) => this.#finish(error as Error),
    );
  }

  #send(dispatch: Dispatcher.Dispatch): void {
    try {
      dispatch(this.#options, this);
    } catch (error) {
      this.onResponseError(null, error as Error);
    }
  }

  protected override onAbort(reason: Error): void {
    if (this.below !== null) this.below.abort(reason);
    else if (!this.#slot) this.#finish(reason); // still waiting for a slot: nothing below would report
  }

  override onResponseEnd(controller: Dispatcher.DispatchController, trailers: Headers): void {
    if (this.#done) return;
    this.#release();
    super.onResponseEnd(controller, trailers);
  }

  override onResponseError(_controller: Dispatcher.DispatchController | null, error: Error): void {
    this.#finish(error);
  }

  #finish(error: Error): void {
    if (this.#done) return;
    // A call that ran out of time held its slot past what the dependency could answer in: an
    // adaptive limit shrinks on it.
    const code = (error as { code?: unknown }).code;
    this.#release(code === 'DEADLINE_EXCEEDED' || code === 'ATTEMPT_TIMEOUT' ? 'dropped' : 'success');
    this.upstream.onResponseError?.(this, error);
  }

  #release(outcome: LeaseOutcome = 'success'): void {
    this.#done = true;
    if (!this.#slot) return;
    this.#slot = false;
    this.#limiter.release(outcome);
  }
}

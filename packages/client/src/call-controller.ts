import type { Dispatcher } from 'undici';

/** The call a controller belongs to. @internal */
export interface ControlledCall {
  /** Attempts the call has made so far. */
  readonly attempts: number;
  abort(reason: Error): void;
}

/**
 * The one controller the downstream handler sees for the whole call. Each attempt is a
 * separate dispatch with its own controller; this forwards pause/resume to the current one
 * (re-applying a pause when the target changes), so backpressure keeps working across
 * retries, and routes abort to the call so a pending backoff is cancelled too. A
 * downstream handler can read the call's `attempts` from it.
 *
 * @internal
 */
export class CallController implements Dispatcher.DispatchController {
  #target: Dispatcher.DispatchController | null = null;
  #paused = false;
  #aborted = false;
  #reason: Error | null = null;
  readonly #call: ControlledCall;

  constructor(call: ControlledCall) {
    this.#call = call;
  }

  /** Attempts the call has made so far (its last, once the response has started). */
  get attempts(): number {
    return this.#call.attempts;
  }

  set target(target: Dispatcher.DispatchController | null) {
    this.#target = target;
    if (this.#paused) target?.pause();
  }

  get rawHeaders(): Dispatcher.DispatchController['rawHeaders'] {
    return this.#target?.rawHeaders ?? null;
  }

  get rawTrailers(): Dispatcher.DispatchController['rawTrailers'] {
    return this.#target?.rawTrailers ?? null;
  }

  get aborted(): boolean {
    return this.#aborted;
  }

  get paused(): boolean {
    return this.#paused;
  }

  get reason(): Error | null {
    return this.#reason;
  }

  pause(): void {
    this.#paused = true;
    this.#target?.pause();
  }

  resume(): void {
    this.#paused = false;
    this.#target?.resume();
  }

  abort(reason: Error): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#call.abort(reason);
  }
}

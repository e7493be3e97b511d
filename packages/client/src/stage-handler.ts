import type { Dispatcher } from 'undici';

type Headers = Record<string, string | string[] | undefined>;

/**
 * The two faces of one stage of the pipeline for one call: an undici handler towards the
 * stage below (which reports the response to it) and the controller the stage above sees
 * (which pauses, resumes or aborts through it). By default everything passes through:
 * callbacks go up with this handler as their controller, and pause / resume / abort go down
 * to the controller below — remembered when there is none yet, applied when it arrives.
 * A stage overrides what it does differently (undici's DecoratorHandler, controller-style).
 *
 * @internal
 */
export abstract class StageHandler implements Dispatcher.DispatchHandler, Dispatcher.DispatchController {
  protected readonly upstream: Dispatcher.DispatchHandler;
  /** The controller of the stage below (undici's for the attempt stage), once it has started. */
  protected below: Dispatcher.DispatchController | null = null;
  #paused = false;
  #aborted = false;
  #reason: Error | null = null;

  constructor(upstream: Dispatcher.DispatchHandler) {
    this.upstream = upstream;
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

  get rawHeaders(): Dispatcher.DispatchController['rawHeaders'] {
    return this.below?.rawHeaders ?? null;
  }

  get rawTrailers(): Dispatcher.DispatchController['rawTrailers'] {
    return this.below?.rawTrailers ?? null;
  }

  pause(): void {
    this.#paused = true;
    this.below?.pause();
  }

  resume(): void {
    this.#paused = false;
    this.below?.resume();
  }

  abort(reason: Error): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.onAbort(reason);
  }

  /** The stage above aborted the call. Default: abort the stage below (or when it starts). */
  protected onAbort(reason: Error): void {
    this.below?.abort(reason);
  }

  /** A new controller below (a new attempt): pause and abort carry over to it. */
  protected setBelow(controller: Dispatcher.DispatchController | null): void {
    this.below = controller;
    if (controller === null) return;
    if (this.#paused) controller.pause();
    if (this.#aborted) controller.abort(this.#reason!);
  }

  onRequestStart(controller: Dispatcher.DispatchController, _context?: unknown): void {
    this.setBelow(controller);
  }

  onResponseStart(_controller: Dispatcher.DispatchController, status: number, headers: Headers, statusText?: string): void {
    this.upstream.onResponseStart?.(this, status, headers, statusText);
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.upstream.onResponseData?.(this, chunk);
  }

  onResponseEnd(_controller: Dispatcher.DispatchController, trailers: Headers): void {
    this.upstream.onResponseEnd?.(this, trailers);
  }

  onResponseError(_controller: Dispatcher.DispatchController | null, error: Error): void {
    this.upstream.onResponseError?.(this, error);
  }
}

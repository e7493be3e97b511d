import type { IncomingHttpHeaders } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';

type Controller = Dispatcher.DispatchController;
type Handler = Dispatcher.DispatchHandler;

/**
 * The controller the caller's handler gets while chaos holds the request (a delay, a hang,
 * a synthesized response). An abort ends the held request; once the request is really
 * dispatched, everything is passed to undici's own controller.
 *
 * @internal
 */
export class HeldController implements Controller {
  #real: Controller | undefined;
  #aborted = false;
  #paused = false;
  #reason: Error | null = null;
  #onAbort: ((reason: Error) => void) | undefined;
  rawHeaders: Buffer[] | null = null;
  rawTrailers: Buffer[] | null = null;

  constructor(onAbort: (reason: Error) => void) {
    this.#onAbort = onAbort;
  }

  get aborted(): boolean {
    return this.#real?.aborted ?? this.#aborted;
  }

  get paused(): boolean {
    return this.#real?.paused ?? this.#paused;
  }

  get reason(): Error | null {
    return this.#real?.reason ?? this.#reason;
  }

  /** The request is dispatched for real: from now on the caller drives undici's controller. */
  attach(real: Controller): void {
    this.#real = real;
    this.#onAbort = undefined;
    if (this.#paused) real.pause();
  }

  /** Chaos is done holding the request (it ended on its own): a late abort changes nothing. */
  release(): void {
    this.#onAbort = undefined;
  }

  abort(reason: Error): void {
    if (this.#real !== undefined) return this.#real.abort(reason);
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    const onAbort = this.#onAbort;
    this.#onAbort = undefined;
    // Reported on a microtask, as undici does: an abort may come from inside onRequestStart.
    if (onAbort !== undefined) queueMicrotask(() => onAbort(reason));
  }

  pause(): void {
    if (this.#real !== undefined) this.#real.pause();
    else this.#paused = true;
  }

  resume(): void {
    if (this.#real !== undefined) this.#real.resume();
    else this.#paused = false;
  }
}

/** @internal Passes the real dispatch's events to the caller's handler, under the controller it already holds. */
export class ReleasedHandler implements Handler {
  readonly #handler: Handler;
  readonly #held: HeldController;

  constructor(handler: Handler, held: HeldController) {
    this.#handler = handler;
    this.#held = held;
  }

  onRequestStart(controller: Controller): void {
    // The caller's onRequestStart already ran, with the held controller; undici's takes over.
    this.#held.attach(controller);
  }

  onRequestUpgrade(_controller: Controller, statusCode: number, headers: IncomingHttpHeaders, socket: Duplex): void {
    this.#handler.onRequestUpgrade?.(this.#held, statusCode, headers, socket);
  }

  onResponseStarted(): void {
    this.#handler.onResponseStarted?.();
  }

  onResponseStart(controller: Controller, statusCode: number, headers: IncomingHttpHeaders, statusMessage?: string): void {
    this.#held.rawHeaders = (controller.rawHeaders as Buffer[] | null | undefined) ?? null;
    this.#handler.onResponseStart?.(this.#held, statusCode, headers, statusMessage);
  }

  onResponseData(_controller: Controller, chunk: Buffer): void {
    this.#handler.onResponseData?.(this.#held, chunk);
  }

  onResponseEnd(controller: Controller, trailers: IncomingHttpHeaders): void {
    this.#held.rawTrailers = (controller.rawTrailers as Buffer[] | null | undefined) ?? null;
    this.#handler.onResponseEnd?.(this.#held, trailers);
  }

  onResponseError(_controller: Controller, error: Error): void {
    this.#handler.onResponseError?.(this.#held, error);
  }

  onBodySent(chunk: Buffer): void {
    this.#handler.onBodySent?.(chunk);
  }

  onRequestSent(): void {
    this.#handler.onRequestSent?.();
  }
}

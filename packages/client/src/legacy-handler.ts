import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';

type Headers = Record<string, string | string[] | undefined>;
type Raw = Dispatcher.DispatchController['rawHeaders'];

/** The handler callbacks of undici ≤ 7, which Node's bundled undici still passes to `dispatch()`. */
interface LegacyDispatchHandler {
  onConnect?(abort: (reason?: Error) => void, context?: unknown): void;
  onHeaders?(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean | void;
  onData?(chunk: Buffer): boolean | void;
  onComplete?(rawTrailers: Buffer[] | null): void;
  onError?(error: Error): void;
  onUpgrade?(statusCode: number, rawHeaders: Buffer[], socket: Duplex): void;
  onResponseStarted?(): void;
}

/**
 * Drives a handler written for undici's older callback API (`onConnect`, `onHeaders`,
 * `onData`, `onComplete`, `onError`) from the current one (`onRequestStart`,
 * `onResponseStart`…). Node's global `fetch()` bundles such an undici: it hands its
 * dispatcher an old-style handler, and a pipeline that only called the new callbacks would
 * never tell it anything — the fetch would hang forever. Backpressure maps both ways: a
 * `false` from `onHeaders`/`onData` pauses, the `resume` it was given resumes.
 *
 * @internal
 */
export class LegacyHandler implements Dispatcher.DispatchHandler {
  readonly #handler: LegacyDispatchHandler;

  constructor(handler: LegacyDispatchHandler) {
    this.#handler = handler;
  }

  /** Whether `handler` speaks only the older callback API. */
  static isLegacy(handler: object): handler is LegacyDispatchHandler {
    return typeof (handler as Dispatcher.DispatchHandler).onRequestStart !== 'function' && typeof (handler as LegacyDispatchHandler).onHeaders === 'function';
  }

  onRequestStart(controller: Dispatcher.DispatchController, context: unknown): void {
    this.#handler.onConnect?.((reason) => controller.abort(reason ?? new Error('aborted')), context);
  }

  onRequestUpgrade(controller: Dispatcher.DispatchController, statusCode: number, headers: Headers, socket: Duplex): void {
    this.#handler.onUpgrade?.(statusCode, rawHeaders(controller.rawHeaders, headers), socket);
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: Headers, statusText?: string): void {
    this.#handler.onResponseStarted?.();
    const resume = (): void => controller.resume();
    if (this.#handler.onHeaders?.(statusCode, rawHeaders(controller.rawHeaders, headers), resume, statusText ?? '') === false) controller.pause();
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#handler.onData?.(chunk) === false) controller.pause();
  }

  onResponseEnd(controller: Dispatcher.DispatchController, trailers: Headers): void {
    this.#handler.onComplete?.(rawHeaders(controller.rawTrailers, trailers));
  }

  onResponseError(_controller: Dispatcher.DispatchController | null, error: Error): void {
    this.#handler.onError?.(error);
  }
}

/** The `[name, value, …]` Buffers the older API passes: undici's raw ones when it has them, else made from the parsed record. */
function rawHeaders(raw: Raw, parsed: Headers | undefined): Buffer[] {
  if (Array.isArray(raw) && (raw.length === 0 || Buffer.isBuffer(raw[0]))) return raw as Buffer[];
  const out: Buffer[] = [];
  const source = Array.isArray(raw) ? undefined : (raw ?? parsed);
  if (Array.isArray(raw)) {
    for (const item of raw) out.push(Buffer.from(String(item), 'latin1'));
    return out;
  }
  for (const name in source) {
    const value = source[name];
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) out.push(Buffer.from(name, 'latin1'), Buffer.from(String(v), 'latin1'));
  }
  return out;
}

import { STATUS_CODES, type IncomingHttpHeaders } from 'node:http';
import type { Dispatcher } from 'undici';
import { Chaos } from './chaos.ts';
import { pathOf } from './faults.ts';
import { HeldController, ReleasedHandler } from './held-controller.ts';
import { faultAnswer } from './problem.ts';

type Controller = Dispatcher.DispatchController;
type Handler = Dispatcher.DispatchHandler;

/**
 * What a client sees when chaos drops its connection: a `SocketError` (`UND_ERR_SOCKET`, as
 * undici reports "other side closed"). It carries undici's `Symbol.for` markers, so
 * `error instanceof errors.SocketError` holds for any copy of undici, and retry classifiers
 * that look at `code` treat it like the real thing.
 */
function socketError(ruleId: string): Error {
  const error = new Error(`other side closed (injected by chaos rule ${ruleId})`);
  Object.defineProperties(error, {
    name: { value: 'SocketError', configurable: true, writable: true },
    code: { value: 'UND_ERR_SOCKET', enumerable: true, configurable: true, writable: true },
    socket: { value: null, enumerable: true, configurable: true, writable: true },
    [Symbol.for('undici.error.UND_ERR')]: { value: true },
    [Symbol.for('undici.error.UND_ERR_SOCKET')]: { value: true },
  });
  return error;
}

/** Destroys a request body stream that will never be sent (undici does the same when a request fails). */
function discardBody(body: Dispatcher.DispatchOptions['body']): void {
  const stream = body as { destroy?: unknown; pipe?: unknown } | null | undefined;
  if (stream !== null && typeof stream === 'object' && typeof stream.pipe === 'function' && typeof stream.destroy === 'function') {
    (stream as { destroy(): void }).destroy();
  }
}

/**
 * `lose-response` on the client: the request goes out and the server answers, but the
 * answer is swallowed and the caller gets a socket error when it has been read in full.
 */
class LosingHandler implements Handler {
  readonly #handler: Handler;
  readonly #ruleId: string;

  constructor(handler: Handler, ruleId: string) {
    this.#handler = handler;
    this.#ruleId = ruleId;
  }

  onRequestStart(controller: Controller, context: unknown): void {
    this.#handler.onRequestStart?.(controller, context);
  }

  onResponseStart(): void {}

  onResponseData(): void {}

  onResponseEnd(controller: Controller): void {
    this.#handler.onResponseError?.(controller, socketError(this.#ruleId));
  }

  onResponseError(controller: Controller, error: Error): void {
    this.#handler.onResponseError?.(controller, error);
  }

  onBodySent(chunk: Buffer): void {
    this.#handler.onBodySent?.(chunk);
  }

  onRequestSent(): void {
    this.#handler.onRequestSent?.();
  }
}

/** Runs a step of a synthesized response; a throwing handler gets the error, once. */
function step(handler: Handler, controller: HeldController, run: () => void): boolean {
  if (controller.aborted) return false;
  try {
    run();
    return true;
  } catch (error) {
    controller.release();
    handler.onResponseError?.(controller, error as Error);
    return false;
  }
}

function respond(handler: Handler, controller: HeldController, ruleId: string, status: number, retryAfterMs: number | undefined): void {
  const answer = faultAnswer(ruleId, status, retryAfterMs);
  const body = Buffer.from(answer.body);
  const headers: IncomingHttpHeaders = { ...answer.headers, 'content-length': String(body.byteLength) };
  controller.rawHeaders = Object.entries(headers).flatMap(([name, value]) => [Buffer.from(name), Buffer.from(String(value))]);
  controller.rawTrailers = [];
  const statusText = STATUS_CODES[status] ?? '';
  if (!step(handler, controller, () => handler.onResponseStart?.(controller, status, headers, statusText))) return;
  if (!step(handler, controller, () => handler.onResponseData?.(controller, body))) return;
  controller.release();
  step(handler, controller, () => handler.onResponseEnd?.(controller, {}));
}

/**
 * Fault injection on the client side, as an undici 8 interceptor: each request is offered
 * to `chaos.pick` (method, path without the query); when a rule fires:
 *
 * - `latency`: the request is sent after the drawn delay (an abort ends the wait);
 * - `error`: a response with that status and a `CHAOS` problem body is synthesized; nothing is sent;
 * - `reset`: the request fails with a `SocketError` (`UND_ERR_SOCKET`); nothing is sent;
 * - `hang`: nothing is sent and nothing comes back until the request is aborted;
 * - `lose-response`: the request is sent and the server answers, but the caller gets a
 *   `SocketError` instead of the response — the server did the work, the client cannot know.
 *
 * @example
 * import { Agent, request } from 'undici';
 * const chaos = createChaos({ enabled: true, rules: [{ path: '/charges', percent: 30, fault: { type: 'lose-response' } }] });
 * const dispatcher = new Agent().compose(chaosInterceptor(chaos));
 * await request('http://127.0.0.1:8080/charges', { method: 'POST', dispatcher });
 */
export function chaosInterceptor(chaos: Chaos): Dispatcher.DispatcherComposeInterceptor {
  if (!(chaos instanceof Chaos)) throw new TypeError(`lifeline: chaosInterceptor needs a Chaos (from createChaos()), got ${typeof chaos}`);
  return (dispatch) =>
    function chaosDispatch(opts, handler) {
      if (!chaos.enabled) return dispatch(opts, handler);
      const picked = chaos.pick(opts.method, pathOf(opts.path));
      if (picked === undefined) return dispatch(opts, handler);
      const fault = picked.fault;
      const ruleId = picked.rule.id!;
      if (fault.type === 'lose-response') return dispatch(opts, new LosingHandler(handler, ruleId));

      let timer: NodeJS.Timeout | undefined;
      const controller = new HeldController((reason) => {
        if (timer !== undefined) clearTimeout(timer);
        discardBody(opts.body);
        handler.onResponseError?.(controller, reason);
      });
      if (fault.type === 'latency') {
        // Not unref()ed: this timer is the request's own wait, and must keep the process alive as its socket would.
        timer = setTimeout(() => {
          timer = undefined;
          if (controller.aborted) return;
          const released = new ReleasedHandler(handler, controller);
          try {
            dispatch(opts, released);
          } catch (error) {
            controller.release();
            handler.onResponseError?.(controller, error as Error);
          }
        }, chaos.delayFor(fault));
      }
      try {
        handler.onRequestStart?.(controller, {});
      } catch (error) {
        if (timer !== undefined) clearTimeout(timer);
        throw error;
      }
      if (controller.aborted || fault.type === 'latency' || fault.type === 'hang') return true;
      queueMicrotask(() => {
        if (controller.aborted) return;
        discardBody(opts.body);
        if (fault.type === 'error') return respond(handler, controller, ruleId, fault.status, fault.retryAfterMs);
        controller.release();
        handler.onResponseError?.(controller, socketError(ruleId));
      });
      return true;
    };
}

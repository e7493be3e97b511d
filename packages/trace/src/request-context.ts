import { AsyncLocalStorage } from 'node:async_hooks';
import { context as otelContext, createContextKey, type Context, type ContextManager, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import type { Deadline, Priority } from '@lifeline/core';

/**
 * Something told when a request is cancelled.
 *
 * @example
 * const watcher: RequestWatcher = { onRequestAbort: (reason) => work.cancel(reason) };
 * const cancelled = request.watch?.(watcher);
 */
export interface RequestWatcher {
  /** The request was cancelled: its caller went away, or its deadline passed. Called at most once. */
  onRequestAbort(reason: unknown): void;
}

/**
 * What an incoming request hands to the work done for it: its id, its deadline, its
 * cancellation signal and its trace. `@lifeline/server` creates one per request; every
 * `@lifeline/client` call made while handling the request reads it, so the call inherits the
 * deadline, the signal, the request id and the trace without being passed them.
 */
export interface RequestContext {
  /** The request id: the inbound `x-request-id`, or a new one. */
  readonly requestId: string;
  /** When the request's work must be done: the server's own limit, shortened by an inbound deadline. */
  readonly deadline: Deadline | undefined;
  /** Fires at the deadline or when the caller goes away. */
  readonly signal: AbortSignal | undefined;
  /** The caller's attempt number (`x-request-attempt`), when it sent a valid one. */
  readonly attempt: number | undefined;
  /** How much the request matters under overload (`x-request-priority`), when the caller sent a valid one. */
  readonly priority?: Priority | undefined;
  /**
   * The OpenTelemetry context of the request: the inbound trace context and baggage, and the
   * server span when an SDK records one. Outgoing calls take it as their parent even when no
   * OpenTelemetry context manager is registered.
   */
  readonly context: Context;
  /**
   * Tells `watcher` when the request is cancelled, without making an AbortController (as
   * reading `signal` does). Returns the reason at once, without registering, when the request is
   * already cancelled; else `undefined`. Pair with `unwatch` when the work ends.
   */
  watch?(watcher: RequestWatcher): unknown;
  /** Stops telling `watcher`. */
  unwatch?(watcher: RequestWatcher): void;
}

// One store per process, shared by every copy of this package that gets loaded.
const kStorage = Symbol.for('lifeline.requestContext');
const storage: AsyncLocalStorage<RequestContext> = ((globalThis as Record<symbol, unknown>)[kStorage] ??=
  new AsyncLocalStorage<RequestContext>()) as AsyncLocalStorage<RequestContext>;

/**
 * Runs `fn(...args)` with `request` as the current request context, and with
 * `request.context` as the active OpenTelemetry context (so spans started inside are children
 * of the request's). With no OpenTelemetry context manager registered there is no active
 * context to set, and `request.context` is not read (a request's context may be made lazily).
 *
 * @example
 * runWithRequestContext({ requestId, deadline, signal, attempt, context: extractContext(req.headers) }, () =>
 *   handle(req, res),
 * );
 */
export function runWithRequestContext<A extends unknown[], T>(request: RequestContext, fn: (...args: A) => T, ...args: A): T {
  if (!contextManagerRegistered()) return storage.run(request, fn, ...args);
  return storage.run(request, () => otelContext.with(request.context, fn, undefined, ...args));
}

/** The OpenTelemetry API's global context manager (a private accessor; missing, every manager counts as registered). */
type ContextApi = { _getContextManager?: () => ContextManager };
const PROBE = createContextKey('lifeline.probe');
let lastManager: ContextManager | undefined;
let lastRegistered = true;

/**
 * Whether an OpenTelemetry context manager is registered, that is, whether `context.with()`
 * does anything. Answered once per manager object: a manager that keeps a probe context active
 * inside `with()` is a real one; the API's no-op manager does not.
 */
function contextManagerRegistered(): boolean {
  const get = (otelContext as unknown as ContextApi)._getContextManager;
  if (typeof get !== 'function') return true;
  const manager = get.call(otelContext);
  if (manager !== lastManager) {
    lastManager = manager;
    const probe = ROOT_CONTEXT.setValue(PROBE, true);
    lastRegistered = manager.with(probe, () => manager.active() === probe);
  }
  return lastRegistered;
}

/**
 * The request context of the work in progress, or `undefined` outside any request.
 *
 * @example
 * const requestId = currentRequestContext()?.requestId;
 */
export function currentRequestContext(): RequestContext | undefined {
  return storage.getStore();
}

/**
 * The OpenTelemetry context an outgoing call should use as its parent: the active one when
 * it carries a span (an SDK's context manager is at work), else the current request's (it
 * carries the inbound trace even with no SDK), else the active one.
 *
 * @example
 * const span = tracer.startSpan('work', {}, parentContext());
 */
export function parentContext(request: RequestContext | undefined = storage.getStore()): Context {
  const active = otelContext.active();
  if (request === undefined || (active !== ROOT_CONTEXT && trace.getSpan(active) !== undefined)) return active;
  return request.context;
}

import { AsyncLocalStorage } from 'node:async_hooks';
import { context as otelContext, type Context, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import type { Deadline } from '@lifeline/core';

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
 * Runs `fn` with `request` as the current request context, and with `request.context` as the
 * active OpenTelemetry context (so spans started inside are children of the request's).
 *
 * @example
 * runWithRequestContext({ requestId, deadline, signal, attempt, context: extractContext(req.headers) }, () =>
 *   handle(req, res),
 * );
 */
export function runWithRequestContext<T>(request: RequestContext, fn: () => T): T {
  return storage.run(request, () => otelContext.with(request.context, fn));
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

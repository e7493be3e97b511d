import type { IncomingMessage, ServerResponse } from 'node:http';
import { LifelineError, withoutStack, type CoarseTimer, type Deadline, type Priority, type TimerTask } from '@lifeline/core';
import { startTrace, type RequestContext } from '@lifeline/trace';
import type { Context, Span } from '@opentelemetry/api';

/** @internal Where a request's context is kept on its `IncomingMessage`. */
export const kInbound = Symbol('lifeline.inbound');

function deadlineExceeded(): LifelineError {
  return withoutStack(() => new LifelineError('DEADLINE_EXCEEDED', 'the request deadline passed', { retryable: false }));
}

/** @internal The reason a request's signal carries when its caller went away. */
export function clientGone(): LifelineError {
  return withoutStack(
    () => new LifelineError('ABORTED', 'the client closed the connection before the response was complete', { retryable: false }),
  );
}

/** Something told when a request is cancelled (an outgoing call made for it, say). */
interface Watcher {
  onRequestAbort(reason: unknown): void;
}

/**
 * The context of one incoming request, as handlers and outgoing calls see it.
 *
 * The AbortSignal is made on first read: a request whose handler never looks at it costs no
 * AbortController and no timer. Once made, it is armed on the owner's shared coarse timer
 * (one interval for every request, not a timer each) and aborts with `DEADLINE_EXCEEDED` at
 * the deadline, or with `ABORTED` when the client disconnects before the response is complete.
 * Outgoing calls made for the request use {@link InboundRequest.watch} instead, which costs no
 * AbortController: the call itself is the watcher.
 *
 * @internal Created by the adapters; handlers see it as a `RequestContext`.
 */
export class InboundRequest implements RequestContext, TimerTask {
  readonly requestId: string;
  readonly deadline: Deadline;
  readonly attempt: number | undefined;
  /** @internal The SERVER span this request started, when an SDK records one. */
  readonly span: Span | undefined;
  /** @internal The route template, when the framework knows it when the request starts. */
  route: string | undefined;
  /** @internal Reads the route template when the response ends (Express routes after the middleware ran). */
  routeOf: ((req: IncomingMessage) => string | undefined) | undefined;
  /** @internal The request's claim on an Idempotency-Key, failed when the handler throws. */
  claim: { fail(): void } | undefined;
  /** How much the request matters under overload (`x-request-priority`), when the caller sent a valid one. */
  priority: Priority | undefined = undefined;
  /** @internal Whether the request arrived with no time left (an inbound deadline of 0). */
  arrivedSpent = false;
  /** @internal Whether the request holds a concurrency slot. */
  slot = false;
  /** @internal Whether the response is over (finished or its connection closed). */
  ended = false;
  /** @internal When the request was opened, for its duration metric (0 when no SDK records metrics). */
  startedAt = 0;
  /** @internal The response, while the request is in flight. */
  res: ServerResponse | undefined = undefined;
  /** @internal The request opened just before this one and still in flight. */
  inflightPrev: InboundRequest | undefined = undefined;
  /** @internal The request opened just after this one and still in flight. */
  inflightNext: InboundRequest | undefined = undefined;
  timerAt = 0;
  timerNext: TimerTask | null = null;
  timerPrev: TimerTask | null = null;
  timerSlot = -1;
  readonly #timer: CoarseTimer;
  #controller: AbortController | undefined;
  #reason: LifelineError | undefined;
  #watchers: Watcher | Watcher[] | undefined;
  #context: Context;
  #startsTrace: boolean;

  constructor(
    timer: CoarseTimer,
    requestId: string,
    deadline: Deadline,
    attempt: number | undefined,
    context: Context,
    startsTrace: boolean,
    span: Span | undefined,
    route: string | undefined,
  ) {
    this.#timer = timer;
    this.requestId = requestId;
    this.deadline = deadline;
    this.attempt = attempt;
    this.#context = context;
    this.#startsTrace = startsTrace;
    this.span = span;
    this.route = route;
  }

  /**
   * The request's OpenTelemetry context: the inbound trace and baggage, the SERVER span when an
   * SDK records one, or — with no SDK and no valid inbound trace — a new trace, started on
   * first read.
   */
  get context(): Context {
    if (this.#startsTrace) {
      this.#startsTrace = false;
      this.#context = startTrace(this.#context);
    }
    return this.#context;
  }

  /** Aborts at the deadline or when the client disconnects before the response is complete. */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      const controller = new AbortController();
      this.#controller = controller;
      if (this.#reason === undefined && this.deadline.expired) this.#reason = deadlineExceeded();
      if (this.#reason !== undefined) controller.abort(this.#reason);
      else if (!this.ended) this.#timer.schedule(this, this.deadline.at);
    }
    return this.#controller.signal;
  }

  /**
   * Tells `watcher` when the request is cancelled (its caller went away, or its deadline
   * passed while the signal was armed), without making an AbortController. Returns the reason
   * at once, without registering, when the request is already cancelled.
   */
  watch(watcher: Watcher): unknown {
    if (this.#reason !== undefined) return this.#reason;
    const watchers = this.#watchers;
    if (watchers === undefined) this.#watchers = watcher;
    else if (Array.isArray(watchers)) watchers.push(watcher);
    else this.#watchers = [watchers, watcher];
    return undefined;
  }

  /** Stops telling `watcher`. */
  unwatch(watcher: Watcher): void {
    const watchers = this.#watchers;
    if (watchers === watcher) this.#watchers = undefined;
    else if (Array.isArray(watchers)) {
      const at = watchers.indexOf(watcher);
      if (at !== -1) watchers.splice(at, 1);
    }
  }

  /** @internal The deadline passed while the signal was armed. */
  onTimer(): void {
    this.abort(deadlineExceeded());
  }

  /** @internal Aborts the signal (now, or as soon as someone asks for it) with `reason`. */
  abort(reason: LifelineError): void {
    if (this.#reason !== undefined) return;
    this.#reason = reason;
    this.#timer.cancel(this);
    this.#controller?.abort(reason);
    const watchers = this.#watchers;
    if (watchers === undefined) return;
    this.#watchers = undefined;
    if (Array.isArray(watchers)) for (const watcher of watchers) watcher.onRequestAbort(reason);
    else watchers.onRequestAbort(reason);
  }

  /** @internal The response is over: the deadline no longer needs watching. */
  end(): void {
    this.ended = true;
    this.res = undefined;
    this.#timer.cancel(this);
  }
}

/**
 * The request context of a Node request handled by Lifeline (any adapter), or `undefined`
 * for a request Lifeline did not see (or a health probe).
 *
 * @example
 * const server = http.createServer(lifeline.handler((req, res) => {
 *   const { requestId, signal } = requestContext(req)!;
 *   res.end(requestId);
 * }));
 */
export function requestContext(req: IncomingMessage): RequestContext | undefined {
  return (req as unknown as Record<symbol, InboundRequest | undefined>)[kInbound];
}

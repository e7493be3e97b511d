import type { IncomingMessage } from 'node:http';
import { Deadline, type CoarseTimer, type Priority } from '@lifeline/core';
import {
  ENVOY_TIMEOUT,
  extractContext,
  GRPC_TIMEOUT,
  newRequestId,
  parseDeadlineHeaders,
  readAttempt,
  readPriority,
  readRequestId,
  REQUEST_ATTEMPT,
  REQUEST_PRIORITY,
  REQUEST_ID,
  REQUEST_TIMEOUT,
} from '@lifeline/trace';
import { context, trace, type Span, type Tracer } from '@opentelemetry/api';
import type { IgnoredHeader, IgnoredHeaders } from './ignored-headers.ts';
import { InboundRequest } from './inbound-request.ts';
import { startServerSpan } from './server-span.ts';

/**
 * @internal Reads what an incoming request says about itself — its id, its deadline, its
 * attempt number, its trace — into an {@link InboundRequest}. A malformed header is ignored
 * and counted, never thrown.
 */
export class RequestStart {
  readonly #timeout: number;
  readonly #trustInbound: boolean;
  readonly #ignored: IgnoredHeaders;
  readonly #timer: CoarseTimer;

  constructor(timeout: number, trustInbound: boolean, ignored: IgnoredHeaders, timer: CoarseTimer) {
    this.#timeout = timeout;
    this.#trustInbound = trustInbound;
    this.#ignored = ignored;
    this.#timer = timer;
  }

  /** `tracer`: the registered SDK's (`registeredTracer`), or `undefined` with none. */
  start(req: IncomingMessage, route: string | undefined, tracer: Tracer | undefined): InboundRequest {
    const headers = req.headers;
    const rawId = headers[REQUEST_ID];
    let requestId = rawId === undefined ? undefined : readRequestId(rawId);
    if (requestId === undefined) {
      requestId = newRequestId();
      if (rawId !== undefined) this.#ignored.add('x-request-id', requestId);
    }

    // Node lower-cases header names, so three property reads skip the parse for most requests.
    let ms = this.#timeout;
    if (headers[REQUEST_TIMEOUT] !== undefined || headers[GRPC_TIMEOUT] !== undefined || headers[ENVOY_TIMEOUT] !== undefined) {
      const inbound = parseDeadlineHeaders(headers);
      for (const name of inbound.ignored) this.#ignored.add(name as IgnoredHeader, requestId);
      // An inbound deadline only ever shortens the server's own limit.
      if (inbound.ms !== undefined && inbound.ms < ms) ms = inbound.ms;
    }

    const rawAttempt = headers[REQUEST_ATTEMPT];
    let attempt: number | undefined;
    if (rawAttempt !== undefined) {
      attempt = readAttempt(rawAttempt);
      if (attempt === undefined) this.#ignored.add('x-request-attempt', requestId);
    }
    const rawPriority = headers[REQUEST_PRIORITY];
    let priority: Priority | undefined;
    if (rawPriority !== undefined) {
      priority = readPriority(rawPriority);
      if (priority === undefined) this.#ignored.add('x-request-priority', requestId);
    }

    // The request's trace context. A span is already active when @opentelemetry/instrumentation-http
    // made one from the same headers: its context is the request's, extracting again would fork the trace.
    const active = context.active();
    let ctx = active;
    let span: Span | undefined;
    let startsTrace = false;
    if (trace.getSpan(active) === undefined) {
      if (this.#trustInbound && (headers.traceparent !== undefined || headers.baggage !== undefined)) {
        ctx = extractContext(headers, active);
        if (headers.traceparent !== undefined && trace.getSpanContext(ctx) === undefined) this.#ignored.add('traceparent', requestId);
      }
      if (tracer !== undefined) {
        span = startServerSpan(tracer, req.method ?? 'GET', req.url ?? '/', route, ctx);
        ctx = trace.setSpan(ctx, span);
      } else {
        // No SDK: this service still takes part in the trace. A request that brought none (or
        // an invalid one, or came from an untrusted edge) starts a new one here, so that its
        // outgoing calls share one trace id, as the W3C processing model asks — made when the
        // context is first read, so a request that calls nothing out pays nothing for it. With
        // an SDK, the SDK's span starts it instead.
        startsTrace = trace.getSpanContext(ctx) === undefined;
      }
    }
    const inbound = new InboundRequest(this.#timer, requestId, Deadline.after(ms), attempt, ctx, startsTrace, span, route);
    // Known now, without reading the clock again at admission.
    if (ms <= 0) inbound.arrivedSpent = true;
    if (priority !== undefined) inbound.priority = priority;
    return inbound;
  }
}

import { injectContext, OutgoingTraceHeaders, REQUEST_ID } from '@lifeline/trace';
import { isSpanContextValid, propagation, trace, type Context, type Span, type Tracer } from '@opentelemetry/api';
import type { Telemetry } from './telemetry.ts';

/** The trace of one call. @internal */
export interface CallTrace {
  /** The call's span; undefined when no SDK is registered (and no tracer provider given). */
  readonly span: Span | undefined;
  /** The context holding the call's span, parent of its attempts' spans; undefined when the call is not recorded. */
  readonly context: Context | undefined;
  /** The tracer of the attempts' spans, when the call is recorded. */
  readonly tracer: Tracer | undefined;
  /**
   * When the call is not recorded: the trace headers of the next attempt, read once per
   * attempt — each read names a new parent-id.
   */
  readonly headers: Record<string, string> | undefined;
  readonly requestId: string;
}

/** A call the SDK records: each attempt's CLIENT span names the attempt's parent-id. */
class RecordedCall implements CallTrace {
  readonly span: Span;
  readonly context: Context;
  readonly tracer: Tracer;
  readonly headers = undefined;
  readonly requestId: string;

  constructor(span: Span, context: Context, tracer: Tracer, requestId: string) {
    this.span = span;
    this.context = context;
    this.tracer = tracer;
    this.requestId = requestId;
  }
}

/**
 * A call nothing records — no SDK, or the SDK sampled it out. Its attempts are still
 * operations of this service, so each gets a parent-id of its own under the trace of the call
 * (the W3C processing model: every outgoing request updates `parent-id`), and never the
 * inbound `traceparent` passed on as it came.
 */
class UnrecordedCall implements CallTrace {
  readonly span: Span | undefined;
  readonly context = undefined;
  readonly tracer = undefined;
  readonly requestId: string;
  readonly #outgoing: OutgoingTraceHeaders;

  constructor(span: Span | undefined, ctx: Context, requestId: string) {
    this.span = span;
    this.requestId = requestId;
    this.#outgoing = new OutgoingTraceHeaders(ctx, { [REQUEST_ID]: requestId });
  }

  get headers(): Record<string, string> {
    return this.#outgoing.next();
  }
}

/**
 * Starts the trace of a call made in `parent`. A recorded call gets a CLIENT span per
 * attempt, each sending its own `traceparent`. Otherwise each attempt sends a `traceparent`
 * with the trace and flags of the call's non-recording span (sampled out), or with no SDK at
 * all of `parent` (the inbound trace, or the one the server started), and a new parent-id.
 * With no trace in `parent` (a call outside any traced request, no SDK) no `traceparent` is
 * sent: a caller's own trace headers pass through untouched.
 *
 * @internal
 */
export function startCallTrace(telemetry: Telemetry, method: string, parent: Context, requestId: string): CallTrace {
  const tracer = telemetry.tracer();
  if (tracer === undefined) return new UnrecordedCall(undefined, parent, requestId);
  const span = telemetry.startCall(tracer, method, parent);
  if (span.isRecording()) return new RecordedCall(span, trace.setSpan(parent, span), tracer, requestId);
  return new UnrecordedCall(span, isSpanContextValid(span.spanContext()) ? trace.setSpan(parent, span) : parent, requestId);
}

/**
 * The trace headers of a request sent in `ctx` under a span of this process (an attempt's
 * CLIENT span): `traceparent`, `tracestate` and `baggage` (set, never appended), and the
 * request id. Empty names are not set: with no trace at all only the request id is sent.
 *
 * @internal
 */
export function traceHeaders(ctx: Context, requestId: string): Record<string, string> {
  // No trace and no baggage (a call outside any traced request): nothing to inject.
  if (trace.getSpanContext(ctx) === undefined && propagation.getBaggage(ctx) === undefined) return { [REQUEST_ID]: requestId };
  const headers: Record<string, string> = {};
  injectContext(ctx, headers);
  headers[REQUEST_ID] = requestId;
  return headers;
}

import { injectContext, REQUEST_ID } from '@lifeline/trace';
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
  /** When the call is not recorded: the trace headers every attempt sends. */
  readonly headers: Record<string, string> | undefined;
  readonly requestId: string;
}

/**
 * Starts the trace of a call made in `parent`. A recorded call gets a CLIENT span per
 * attempt, each sending its own `traceparent`; otherwise every attempt sends the same
 * headers: the call's non-recording span (sampled out), or with no SDK at all no span and the
 * inbound trace passed on as it came.
 *
 * @internal
 */
export function startCallTrace(telemetry: Telemetry, method: string, parent: Context, requestId: string): CallTrace {
  const tracer = telemetry.tracer();
  if (tracer === undefined) {
    return { span: undefined, context: undefined, tracer: undefined, headers: traceHeaders(parent, requestId), requestId };
  }
  const span = telemetry.startCall(tracer, method, parent);
  if (span.isRecording()) return { span, context: trace.setSpan(parent, span), tracer, headers: undefined, requestId };
  const ctx = isSpanContextValid(span.spanContext()) ? trace.setSpan(parent, span) : parent;
  return { span, context: undefined, tracer: undefined, headers: traceHeaders(ctx, requestId), requestId };
}

/**
 * The trace headers of a request sent in `ctx`: `traceparent`, `tracestate` and `baggage`
 * (set, never appended), and the request id. Empty names are not set: with no trace at all
 * only the request id is sent.
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

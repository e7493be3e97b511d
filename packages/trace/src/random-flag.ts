import { type Context, createContextKey, type SpanContext } from '@opentelemetry/api';
import { RANDOM_TRACE_ID_FLAG } from './traceparent.ts';

/**
 * Why this key: W3C Trace Context Level 2 says a random-trace-id flag set on the incoming
 * `traceparent` MUST be set on every outgoing one with the same trace id. An SDK's spans do
 * not carry it on: the OpenTelemetry JS SDK gives each span the sampled bit alone, so a span
 * started under an inbound `…-03` would go out as `…-01`. The trace id whose inbound flag was
 * set is kept in the context at extraction and put back at injection. A `Symbol.for` key,
 * so two copies of this package read each other's.
 */
const RANDOM_TRACE_ID = createContextKey('lifeline.trace.randomTraceId');

/** @internal `ctx` noting that the trace `traceId` came in with the random-trace-id flag set. */
export function withRandomTraceId(ctx: Context, traceId: string): Context {
  return ctx.setValue(RANDOM_TRACE_ID, traceId);
}

/**
 * @internal The flags to send for `spanContext` in `ctx`: its own, with the random-trace-id flag
 * set again when its trace came in with it.
 */
export function outgoingFlags(ctx: Context, spanContext: SpanContext): number {
  const flags = Number(spanContext.traceFlags);
  return ctx.getValue(RANDOM_TRACE_ID) === spanContext.traceId ? flags | RANDOM_TRACE_ID_FLAG : flags;
}

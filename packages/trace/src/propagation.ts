import { type Context, diag, propagation, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { parseBaggage, serializeBaggage } from './baggage.ts';
import {
  BAGGAGE,
  deleteHeader,
  type HeaderRecord,
  headerValues,
  setHeader,
  soleValue,
  TRACEPARENT,
  TRACESTATE,
} from './headers.ts';
import { outgoingFlags, withRandomTraceId } from './random-flag.ts';
import { serializeTraceState, TraceState } from './trace-state.ts';
import { formatTraceparent, parseTraceparent, RANDOM_TRACE_ID_FLAG } from './traceparent.ts';

export { MAX_BAGGAGE_BYTES, MAX_BAGGAGE_ENTRIES, truncateBaggage } from './baggage.ts';

/** Options of {@link extractContext}. */
export interface ExtractOptions {
  /**
   * `false` for an untrusted edge: inbound `traceparent`, `tracestate` and `baggage` are
   * ignored, so the request starts a new trace and carries no inbound baggage. Default `true`.
   */
  trusted?: boolean;
}

/**
 * Extracts the inbound W3C trace context (`traceparent`, `tracestate`) and baggage from a
 * plain header object into a new context derived from `base`, with Lifeline's own W3C parsers
 * over `@opentelemetry/api`, so it works without any registered SDK or global propagator.
 *
 * Follows the W3C processing model and never throws: an invalid or repeated `traceparent`
 * gives no remote parent (a new trace starts) and its `tracestate` is dropped; a `tracestate`
 * with an invalid list-member or more than 32 is dropped whole (a repeated key keeps its first
 * value); malformed baggage members are skipped, and baggage beyond 64 valid entries or 8192
 * bytes is cut by whole entries. Each thing ignored is logged at debug level through the api's
 * `diag` logger. With `{ trusted: false }` nothing inbound is read and `base` is returned.
 *
 * @example
 * const ctx = extractContext(req.headers);
 * await context.with(ctx, () => handle(req, res));
 */
export function extractContext(
  headers: Record<string, string | string[] | undefined>,
  base: Context = ROOT_CONTEXT,
  options: ExtractOptions = {},
): Context {
  if (options.trusted === false) return base;
  let ctx = base;
  const traceparent = soleValue(headerValues(headers, TRACEPARENT), false);
  if (traceparent === null) {
    diag.debug('lifeline: traceparent ignored: repeated with different values');
  } else if (traceparent !== undefined) {
    const spanContext = parseTraceparent(traceparent);
    if (spanContext === undefined) {
      diag.debug(`lifeline: traceparent ignored: malformed (${traceparent.length} characters)`);
    } else {
      const tracestate = headerValues(headers, TRACESTATE);
      if (tracestate.length > 0) {
        const state = TraceState.parse(tracestate.join(','));
        if (state === undefined) diag.debug('lifeline: tracestate ignored: an invalid list-member, or more than 32');
        else if (state.size > 0) spanContext.traceState = state;
      }
      ctx = trace.setSpanContext(ctx, spanContext);
      if ((spanContext.traceFlags & RANDOM_TRACE_ID_FLAG) !== 0) ctx = withRandomTraceId(ctx, spanContext.traceId);
    }
  }
  const baggage = headerValues(headers, BAGGAGE);
  if (baggage.length > 0) {
    const entries = parseBaggage(baggage.join(','));
    if (entries === undefined) diag.debug('lifeline: baggage ignored: no valid list-member');
    else ctx = propagation.setBaggage(ctx, propagation.createBaggage(entries));
  }
  return ctx;
}

/**
 * Writes the span context and baggage of `ctx` into a plain header object as `traceparent`,
 * `tracestate` and `baggage`, setting rather than appending: any existing spelling of these
 * headers (`Traceparent`, `TRACEPARENT`) is replaced, so exactly one of each remains. When a
 * `traceparent` is written, a stale `tracestate` is removed if `ctx` has none. Baggage is cut
 * to the W3C limits by whole entries. When `ctx` has no valid span context or no baggage,
 * those headers are left as they are. Never throws.
 *
 * The span of `ctx` is the parent the `traceparent` names (version `00`, reserved flags
 * cleared, the random-trace-id flag kept when the trace came in with it, even through an
 * SDK's spans). A span of this process — an SDK's — gets a `tracestate` rebuilt by the
 * specification's rules, at most 512 characters. A remote span context alone (an inbound one,
 * no SDK) is passed on as it came, the way a proxy does: the same parent-id, and the
 * `tracestate` exactly as received, since the specification forbids modifying `tracestate`
 * when `traceparent` is passed on unchanged. To send requests as operations of this process
 * with no SDK — a new parent-id each — use {@link OutgoingTraceHeaders}.
 *
 * @example
 * const headers: HeaderRecord = { accept: 'application/json' };
 * injectContext(context.active(), headers);
 */
export function injectContext(ctx: Context, headers: HeaderRecord): void {
  const spanContext = trace.getSpanContext(ctx);
  const traceparent = spanContext === undefined ? undefined : formatTraceparent(spanContext, outgoingFlags(ctx, spanContext));
  if (traceparent !== undefined) {
    setHeader(headers, TRACEPARENT, traceparent);
    const state = spanContext?.traceState;
    const tracestate = spanContext?.isRemote === true && state instanceof TraceState ? state.received() : serializeTraceState(state);
    if (tracestate !== '') setHeader(headers, TRACESTATE, tracestate);
    else deleteHeader(headers, TRACESTATE);
  }
  const baggage = propagation.getBaggage(ctx);
  if (baggage !== undefined) {
    const value = serializeBaggage(baggage);
    if (value !== '') setHeader(headers, BAGGAGE, value);
  }
}

import { type Context, propagation, trace } from '@opentelemetry/api';
import { serializeBaggage } from './baggage.ts';
import { BAGGAGE, TRACEPARENT, TRACESTATE } from './headers.ts';
import { outgoingFlags } from './random-flag.ts';
import { serializeTraceState } from './trace-state.ts';
import { newSpanId } from './trace-ids.ts';
import { formatTraceparent, PARENT_ID_END, PARENT_ID_START } from './traceparent.ts';

/**
 * The trace headers of the requests sent on behalf of `ctx` by work that records no span of
 * its own — no OpenTelemetry SDK registered, or the SDK sampled the work out.
 *
 * The W3C processing model asks every outgoing request to carry a new `parent-id`, the id of
 * that request as its caller knows it; passing the inbound `traceparent` on unchanged would
 * make each downstream request look like a child of this service's caller. So each
 * {@link OutgoingTraceHeaders.next} call gives one request its own `traceparent`: the trace id
 * of `ctx`, a new random parent-id (a span nobody records), and the flags of `ctx` — the sampled
 * flag as it came (no recording decision is made here), the random-trace-id flag kept. Because
 * the `traceparent` changes, the `tracestate` sent is rebuilt by the specification's rules
 * (surrounding whitespace, empty members and repeated keys left out; at most 512 characters,
 * cut by whole members). `tracestate`, `baggage` and the `fixed` headers are built once, in
 * the constructor; `next()` only draws the parent-id. With no valid span context in `ctx`,
 * `next()` sends no `traceparent` and no `tracestate`. Never throws.
 *
 * @example
 * const outgoing = new OutgoingTraceHeaders(parentContext(), { 'x-request-id': requestId });
 * await fetch(url, { headers: outgoing.next() }); // traceparent: 00-<trace id>-<new parent-id>-01
 * await fetch(url, { headers: outgoing.next() }); // another parent-id
 */
export class OutgoingTraceHeaders {
  readonly #fixed: Record<string, string>;
  /** The `traceparent` before and after its parent-id; `undefined` when there is no trace. */
  readonly #head: string | undefined;
  readonly #tail: string = '';

  constructor(ctx: Context, fixed: Record<string, string> = {}) {
    const headers: Record<string, string> = {};
    const spanContext = trace.getSpanContext(ctx);
    const traceparent = spanContext === undefined ? undefined : formatTraceparent(spanContext, outgoingFlags(ctx, spanContext));
    if (traceparent !== undefined) {
      this.#head = traceparent.slice(0, PARENT_ID_START);
      this.#tail = traceparent.slice(PARENT_ID_END);
      const tracestate = serializeTraceState(spanContext?.traceState);
      if (tracestate !== '') headers[TRACESTATE] = tracestate;
    }
    const baggage = propagation.getBaggage(ctx);
    if (baggage !== undefined) {
      const value = serializeBaggage(baggage);
      if (value !== '') headers[BAGGAGE] = value;
    }
    this.#fixed = Object.assign(headers, fixed);
  }

  /** The headers of one more request: a new parent-id each time (the same object when there is no trace). */
  next(): Record<string, string> {
    if (this.#head === undefined) return this.#fixed;
    return { ...this.#fixed, [TRACEPARENT]: this.#head + newSpanId() + this.#tail };
  }
}

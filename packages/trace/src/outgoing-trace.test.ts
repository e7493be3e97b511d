import { propagation, ROOT_CONTEXT, type SpanContext, trace, TraceFlags } from '@opentelemetry/api';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { trimOws } from './headers.ts';
import { OutgoingTraceHeaders } from './outgoing-trace.ts';
import { extractContext } from './propagation.ts';
import { startTrace } from './start-trace.ts';
import { TraceState } from './trace-state.ts';
import { parseTraceparent } from './traceparent.ts';

// The examples of W3C Trace Context Level 2 (traceparent and tracestate sections).
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_ID = '00f067aa0ba902b7';
const SAMPLED = `00-${TRACE_ID}-${PARENT_ID}-01`;
const NOT_SAMPLED = `00-${TRACE_ID}-${PARENT_ID}-00`;
const TRACESTATE = 'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE';

/** The `traceparent` grammar of version 00, as sent. */
const TRACEPARENT_00 = /^00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-0[0-3]$/;
/** A `tracestate` as this package sends it: 1 to 32 `key=value` members, comma-separated, no whitespace around them. */
const KEY = String.raw`[a-z0-9][_0-9a-z\-*/@]{0,255}`;
const VALUE = String.raw`[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]`;
const TRACESTATE_LIST = new RegExp(`^${KEY}=${VALUE}(,${KEY}=${VALUE}){0,31}$`);

function parentId(traceparent: string | undefined): string {
  return traceparent!.split('-')[2]!;
}

describe('OutgoingTraceHeaders: the specification examples', () => {
  it('a sampled inbound request: same trace id and flags, a new parent-id per request, tracestate as it came', () => {
    const outgoing = new OutgoingTraceHeaders(extractContext({ traceparent: SAMPLED, tracestate: TRACESTATE }));
    const first = outgoing.next();
    const second = outgoing.next();
    for (const headers of [first, second]) {
      expect(headers.traceparent).toMatch(new RegExp(`^00-${TRACE_ID}-[0-9a-f]{16}-01$`));
      expect(parentId(headers.traceparent)).not.toBe(PARENT_ID);
      expect(headers.tracestate).toBe(TRACESTATE);
    }
    expect(parentId(first.traceparent)).not.toBe(parentId(second.traceparent));
  });

  it('a request the caller did not sample stays unsampled', () => {
    const headers = new OutgoingTraceHeaders(extractContext({ traceparent: NOT_SAMPLED, tracestate: 'rojo=00f067aa0ba902b7' })).next();
    expect(headers.traceparent).toMatch(new RegExp(`^00-${TRACE_ID}-[0-9a-f]{16}-00$`));
    expect(headers.tracestate).toBe('rojo=00f067aa0ba902b7');
  });

  it.each([
    ['random', '02', '02'],
    ['sampled and random', '03', '03'],
    ['reserved bits (cleared)', 'fd', '01'],
  ])('flags %s: %s in, %s out', (_name, inbound, outbound) => {
    const headers = new OutgoingTraceHeaders(extractContext({ traceparent: `00-${TRACE_ID}-${PARENT_ID}-${inbound}` })).next();
    expect(headers.traceparent!.slice(-2)).toBe(outbound);
  });

  it('a future version is written down as 00 with a new parent-id', () => {
    const headers = new OutgoingTraceHeaders(extractContext({ traceparent: `cc-${TRACE_ID}-${PARENT_ID}-01-what-the-future-will-be-like` })).next();
    expect(headers.traceparent).toMatch(new RegExp(`^00-${TRACE_ID}-[0-9a-f]{16}-01$`));
  });

  it('rebuilds tracestate by the rules, since the traceparent changed: whitespace, empty members and repeated keys go', () => {
    const ctx = extractContext({ traceparent: SAMPLED, tracestate: [' rojo=00f067aa0ba902b7 ,, \t', 'congo=t61rcWkgMzE,rojo=second'] });
    expect(new OutgoingTraceHeaders(ctx).next().tracestate).toBe(TRACESTATE);
  });

  it('drops a tracestate with any invalid member whole, and one of more than 32 members', () => {
    expect(new OutgoingTraceHeaders(extractContext({ traceparent: SAMPLED, tracestate: 'rojo=1,@congo=2' })).next()).not.toHaveProperty('tracestate');
    const members = Array.from({ length: 33 }, (_, i) => `k${i}=${i}`);
    expect(new OutgoingTraceHeaders(extractContext({ traceparent: SAMPLED, tracestate: members.join(',') })).next()).not.toHaveProperty(
      'tracestate',
    );
    const headers = new OutgoingTraceHeaders(extractContext({ traceparent: SAMPLED, tracestate: members.slice(0, 32).join(',') })).next();
    expect(headers.tracestate).toBe(members.slice(0, 32).join(','));
  });

  it('keeps multi-tenant keys', () => {
    const tracestate = 'fw529a3039@dt=00f067aa0ba902b7,tenant@vendor=1,a@b@c=2';
    expect(new OutgoingTraceHeaders(extractContext({ traceparent: SAMPLED, tracestate })).next().tracestate).toBe(tracestate);
  });

  it('cuts a tracestate over 512 characters by whole members, the ones over 128 characters first', () => {
    const large = `big=${'x'.repeat(200)}`;
    const small = Array.from({ length: 8 }, (_, i) => `s${i}=${'v'.repeat(40)}`); // 8 × 43 characters
    const ctx = extractContext({ traceparent: SAMPLED, tracestate: [...small.slice(0, 4), large, ...small.slice(4)].join(',') });
    const tracestate = new OutgoingTraceHeaders(ctx).next().tracestate!;
    expect(tracestate).toBe(small.join(','));
    expect(Buffer.byteLength(tracestate)).toBeLessThanOrEqual(512);
  });
});

describe('OutgoingTraceHeaders: where the context comes from', () => {
  it('a new trace (startTrace): its trace id, random flag, not sampled', () => {
    const ctx = startTrace();
    const traceId = trace.getSpanContext(ctx)!.traceId;
    const headers = new OutgoingTraceHeaders(ctx).next();
    expect(headers.traceparent).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-02$`));
    expect(parentId(headers.traceparent)).not.toBe(trace.getSpanContext(ctx)!.spanId);
    expect(headers).not.toHaveProperty('tracestate');
  });

  it("an SDK's non-recording span in a trace that came in random: the random flag is put back", () => {
    // What the OpenTelemetry SDK does to a sampled-out child: its own span id, the sampled bit alone.
    const inbound = extractContext({ traceparent: `00-${TRACE_ID}-${PARENT_ID}-03` });
    const sdkSpan: SpanContext = { traceId: TRACE_ID, spanId: 'a1b2c3d4e5f60718', traceFlags: TraceFlags.NONE };
    expect(new OutgoingTraceHeaders(trace.setSpanContext(inbound, sdkSpan)).next().traceparent!.slice(-2)).toBe('02');
    // Another trace id (the span started a new trace) does not get it.
    const other: SpanContext = { ...sdkSpan, traceId: 'f'.repeat(32) };
    expect(new OutgoingTraceHeaders(trace.setSpanContext(inbound, other)).next().traceparent!.slice(-2)).toBe('00');
  });

  it('no trace: no traceparent and no tracestate, the fixed headers and baggage alone, the same object each time', () => {
    const ctx = propagation.setBaggage(ROOT_CONTEXT, propagation.createBaggage({ tenant: { value: 'acme corp' } }));
    const outgoing = new OutgoingTraceHeaders(ctx, { 'x-request-id': 'req-1' });
    expect(outgoing.next()).toEqual({ baggage: 'tenant=acme%20corp', 'x-request-id': 'req-1' });
    expect(outgoing.next()).toBe(outgoing.next());
  });

  it('the fixed headers travel with every request, beside the trace', () => {
    const outgoing = new OutgoingTraceHeaders(extractContext({ traceparent: SAMPLED, baggage: 'a=1' }), { 'x-request-id': 'req-1' });
    expect(outgoing.next()).toMatchObject({ baggage: 'a=1', 'x-request-id': 'req-1' });
    expect(Object.keys(outgoing.next()).sort()).toEqual(['baggage', 'traceparent', 'x-request-id']);
  });

  it('an invalid span context in the context sends no traceparent', () => {
    const ctx = trace.setSpanContext(ROOT_CONTEXT, { traceId: TRACE_ID.toUpperCase(), spanId: PARENT_ID, traceFlags: 1 });
    expect(new OutgoingTraceHeaders(ctx).next()).toEqual({});
  });
});

describe('OutgoingTraceHeaders: properties (10,000 random inputs each)', () => {
  const hex = (length: number): fc.Arbitrary<string> =>
    fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEF'), minLength: length - 1, maxLength: length + 1 });
  const nearTraceparent = fc
    .tuple(hex(2), hex(32), hex(16), hex(2), fc.constantFrom('', '-', '-x', ' '))
    .map(([v, t, s, f, tail]) => `${v}-${t}-${s}-${f}${tail}`);
  const validTraceparent = fc
    .tuple(
      fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 32, maxLength: 32 }),
      fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 16, maxLength: 16 }),
      fc.integer({ min: 0, max: 255 }),
    )
    .map(([t, s, f]) => `00-${t}-${s}-${f.toString(16).padStart(2, '0')}`);
  const anyString = fc.oneof(fc.string({ maxLength: 80 }), fc.string({ unit: 'binary', maxLength: 80 }));
  const keyChar = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789_-*/@ A.');
  const member = fc
    .tuple(fc.string({ unit: keyChar, maxLength: 10 }), fc.string({ maxLength: 10 }), fc.constantFrom('', ' ', '\t'))
    .map(([k, v, ows]) => `${ows}${k}=${v}${ows}`);
  const tracestate = fc.oneof(anyString, fc.array(member, { maxLength: 40 }).map((list) => list.join(',')));

  it('never throws; the traceparent keeps the inbound trace id under a new parent-id, or starts none; tracestate is valid', () => {
    fc.assert(
      fc.property(fc.oneof(validTraceparent, nearTraceparent, anyString), tracestate, (traceparent, state) => {
        const inbound = parseTraceparent(trimOws(traceparent));
        const headers = new OutgoingTraceHeaders(extractContext({ traceparent, tracestate: state })).next();
        if (inbound === undefined) {
          expect(headers).toEqual({});
          return;
        }
        expect(headers.traceparent).toMatch(TRACEPARENT_00);
        const [, traceId, parent, flags] = headers.traceparent!.split('-');
        expect(traceId).toBe(inbound.traceId);
        expect(parent).not.toBe(inbound.spanId);
        expect(Number.parseInt(flags!, 16)).toBe(inbound.traceFlags);
        if (headers.tracestate !== undefined) {
          expect(headers.tracestate).toMatch(TRACESTATE_LIST);
          expect(Buffer.byteLength(headers.tracestate)).toBeLessThanOrEqual(512);
          // What is sent reads back as itself (parse ∘ serialize is the identity on it).
          expect(TraceState.parse(headers.tracestate)?.serialize()).toBe(headers.tracestate);
        }
      }),
      { numRuns: 10_000 },
    );
  });
});

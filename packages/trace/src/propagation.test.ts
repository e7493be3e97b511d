import {
  type Context,
  diag,
  DiagLogLevel,
  isSpanContextValid,
  propagation,
  ROOT_CONTEXT,
  type SpanContext,
  trace,
  TraceFlags,
} from '@opentelemetry/api';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import type { HeaderRecord } from './headers.ts';
import { extractContext, injectContext, MAX_BAGGAGE_BYTES, MAX_BAGGAGE_ENTRIES, truncateBaggage } from './propagation.ts';
import { TraceState } from './trace-state.ts';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN_ID = '00f067aa0ba902b7';
const TRACEPARENT = `00-${TRACE_ID}-${SPAN_ID}-01`;
const TRACESTATE = 'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE';

function roundTrip(headers: HeaderRecord): HeaderRecord {
  const out: HeaderRecord = {};
  injectContext(extractContext(headers), out);
  return out;
}

function keysLike(headers: HeaderRecord, name: string): string[] {
  return Object.keys(headers).filter((key) => key.toLowerCase() === name);
}

function withRemoteParent(spanContext: SpanContext): Context {
  return trace.setSpan(ROOT_CONTEXT, trace.wrapSpanContext(spanContext));
}

describe('extractContext', () => {
  it('reads a valid traceparent as a remote parent', () => {
    const spanContext = trace.getSpanContext(extractContext({ traceparent: TRACEPARENT }));
    expect(spanContext).toEqual({ traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: TraceFlags.SAMPLED, isRemote: true });
    expect(isSpanContextValid(spanContext!)).toBe(true);
    expect(trace.getSpanContext(extractContext({ Traceparent: `00-${TRACE_ID}-${SPAN_ID}-00` }))?.traceFlags).toBe(0);
  });

  it('round-trips traceparent, tracestate and baggage exactly', () => {
    const baggage = 'userId=alice,serverNode=DF%2028,isProduction=false';
    expect(roundTrip({ traceparent: TRACEPARENT, tracestate: TRACESTATE, baggage })).toEqual({
      traceparent: TRACEPARENT,
      tracestate: TRACESTATE,
      baggage,
    });
    const entries = propagation.getBaggage(extractContext({ baggage }))?.getAllEntries();
    expect(entries?.map(([key, entry]) => [key, entry.value])).toEqual([
      ['userId', 'alice'],
      ['serverNode', 'DF 28'],
      ['isProduction', 'false'],
    ]);
  });

  it.each([
    ['uppercase hex', `00-${TRACE_ID.toUpperCase()}-${SPAN_ID}-01`],
    ['version ff', `ff-${TRACE_ID}-${SPAN_ID}-01`],
    ['all-zero trace id', `00-${'0'.repeat(32)}-${SPAN_ID}-01`],
    ['all-zero parent id', `00-${TRACE_ID}-${'0'.repeat(16)}-01`],
    ['version 00 with a suffix', `${TRACEPARENT}-extra`],
    ['short trace id', `00-${TRACE_ID.slice(1)}-${SPAN_ID}-01`],
    ['non-hex version', `0x-${TRACE_ID}-${SPAN_ID}-01`],
    ['empty', ''],
    ['two comma-joined values', `${TRACEPARENT}, 00-${TRACE_ID}-${'1'.repeat(16)}-01`],
  ])('rejects %s: new trace, tracestate dropped', (_name, traceparent) => {
    const ctx = extractContext({ traceparent, tracestate: TRACESTATE });
    expect(trace.getSpanContext(ctx)).toBeUndefined();
    const out: HeaderRecord = {};
    injectContext(ctx, out);
    expect(out).toEqual({});
  });

  it('accepts a future version with extra fields, as the W3C versioning rules require', () => {
    const spanContext = trace.getSpanContext(extractContext({ traceparent: `cc-${TRACE_ID}-${SPAN_ID}-01-future-part` }));
    expect(spanContext?.traceId).toBe(TRACE_ID);
    expect(roundTrip({ traceparent: `cc-${TRACE_ID}-${SPAN_ID}-01-future-part` }).traceparent).toBe(TRACEPARENT);
  });

  it('rejects different repeated traceparent values and accepts identical ones', () => {
    const other = `00-${TRACE_ID}-${'1'.repeat(16)}-01`;
    expect(trace.getSpanContext(extractContext({ traceparent: [TRACEPARENT, other] }))).toBeUndefined();
    expect(trace.getSpanContext(extractContext({ traceparent: TRACEPARENT, TRACEPARENT: other }))).toBeUndefined();
    expect(trace.getSpanContext(extractContext({ traceparent: [TRACEPARENT, TRACEPARENT] }))?.spanId).toBe(SPAN_ID);
  });

  it('drops a tracestate with an invalid member whole and merges repeated tracestate headers', () => {
    expect(roundTrip({ traceparent: TRACEPARENT, tracestate: 'rojo=1,BAD KEY=x,=novalue,congo=2,nokey' })).toEqual({
      traceparent: TRACEPARENT,
    });
    expect(roundTrip({ traceparent: TRACEPARENT, tracestate: ['rojo=1', 'congo=2'] }).tracestate).toBe('rojo=1,congo=2');
    expect(roundTrip({ traceparent: TRACEPARENT, tracestate: 'BAD KEY=x' })).toEqual({ traceparent: TRACEPARENT });
  });

  it('ignores inbound trace context and baggage when untrusted', () => {
    const ctx = extractContext({ traceparent: TRACEPARENT, tracestate: TRACESTATE, baggage: 'a=b' }, ROOT_CONTEXT, {
      trusted: false,
    });
    expect(ctx).toBe(ROOT_CONTEXT);
    expect(trace.getSpanContext(ctx)).toBeUndefined();
    expect(propagation.getBaggage(ctx)).toBeUndefined();
  });

  it('derives from the given base context', () => {
    const key = Symbol('k');
    const base = ROOT_CONTEXT.setValue(key, 'kept');
    const ctx = extractContext({ traceparent: TRACEPARENT }, base);
    expect(ctx.getValue(key)).toBe('kept');
    expect(extractContext({ traceparent: 'junk' }, base)).toBe(base);
  });

  it('never throws on hostile carriers', () => {
    const hostile: unknown[] = [null, undefined, 'str', 7, [], { traceparent: 7 }, { baggage: ['%E0%A4%A', 5] }];
    for (const headers of hostile) {
      expect(() => extractContext(headers as HeaderRecord)).not.toThrow();
    }
  });
});

describe('injectContext', () => {
  const spanContext: SpanContext = { traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: TraceFlags.SAMPLED, isRemote: true };

  it('writes a remote, non-recording span context with no SDK registered', () => {
    const headers: HeaderRecord = {};
    injectContext(withRemoteParent({ ...spanContext, traceState: new TraceState(TRACESTATE) }), headers);
    expect(headers).toEqual({ traceparent: TRACEPARENT, tracestate: TRACESTATE });
  });

  it('replaces any existing spelling instead of appending: exactly one traceparent remains', () => {
    const headers: HeaderRecord = {
      Traceparent: `00-${'a'.repeat(32)}-${'b'.repeat(16)}-00`,
      TRACEPARENT: [`00-${'c'.repeat(32)}-${'d'.repeat(16)}-00`],
      TraceState: 'stale=1',
      Baggage: 'old=1',
      accept: 'application/json',
    };
    const ctx = propagation.setBaggage(withRemoteParent(spanContext), propagation.createBaggage({ fresh: { value: '1' } }));
    injectContext(ctx, headers);
    expect(keysLike(headers, 'traceparent')).toEqual(['traceparent']);
    expect(headers).toEqual({ traceparent: TRACEPARENT, baggage: 'fresh=1', accept: 'application/json' });
  });

  it('leaves headers alone when the context has no valid span context or baggage', () => {
    const headers: HeaderRecord = { Traceparent: TRACEPARENT, baggage: 'x=1' };
    injectContext(ROOT_CONTEXT, headers);
    expect(headers).toEqual({ Traceparent: TRACEPARENT, baggage: 'x=1' });
    injectContext(withRemoteParent({ ...spanContext, traceId: '0'.repeat(32) }), headers);
    expect(headers).toEqual({ Traceparent: TRACEPARENT, baggage: 'x=1' });
  });
});

describe('injectContext: the traceparent passed on unchanged, or not', () => {
  it('passes a remote span context on as it came: the same parent-id and the tracestate exactly as received', () => {
    // The specification forbids modifying tracestate when traceparent is passed on unchanged.
    const tracestate = 'rojo=00f067aa0ba902b7 ,\tcongo=t61rcWkgMzE,rojo=again';
    const out: HeaderRecord = {};
    injectContext(extractContext({ traceparent: TRACEPARENT, tracestate }), out);
    expect(out).toEqual({ traceparent: TRACEPARENT, tracestate });
    const joined: HeaderRecord = {};
    injectContext(extractContext({ traceparent: TRACEPARENT, tracestate: ['rojo=1', '', 'congo=2'] }), joined);
    expect(joined.tracestate).toBe('rojo=1,,congo=2');
  });

  it("rebuilds tracestate under a span of this process (an SDK's), whose parent-id is new", () => {
    const inbound = trace.getSpanContext(extractContext({ traceparent: TRACEPARENT, tracestate: ' rojo=1 ,,congo=2,rojo=3' }))!;
    const local: SpanContext = { traceId: TRACE_ID, spanId: 'a1b2c3d4e5f60718', traceFlags: 1, traceState: inbound.traceState! };
    const out: HeaderRecord = {};
    injectContext(trace.setSpanContext(ROOT_CONTEXT, local), out);
    expect(out).toEqual({ traceparent: `00-${TRACE_ID}-a1b2c3d4e5f60718-01`, tracestate: 'rojo=1,congo=2' });
  });

  it("a tracestate changed with set() is rebuilt even on a remote span context", () => {
    const inbound = trace.getSpanContext(extractContext({ traceparent: TRACEPARENT, tracestate: 'rojo=1, congo=2' }))!;
    const changed = { ...inbound, traceState: inbound.traceState!.set('lifeline', 'x') };
    const out: HeaderRecord = {};
    injectContext(trace.setSpanContext(ROOT_CONTEXT, changed), out);
    expect(out.tracestate).toBe('lifeline=x,rojo=1,congo=2');
  });

  it("keeps the random flag of an inbound trace through an SDK's span, which carries the sampled bit alone", () => {
    const inbound = extractContext({ traceparent: `00-${TRACE_ID}-${SPAN_ID}-03` });
    const sdkSpan: SpanContext = { traceId: TRACE_ID, spanId: 'a1b2c3d4e5f60718', traceFlags: TraceFlags.SAMPLED };
    const out: HeaderRecord = {};
    injectContext(trace.setSpan(inbound, trace.wrapSpanContext(sdkSpan)), out);
    expect(out.traceparent).toBe(`00-${TRACE_ID}-a1b2c3d4e5f60718-03`);
    const unsetInbound = extractContext({ traceparent: `00-${TRACE_ID}-${SPAN_ID}-01` });
    const plain: HeaderRecord = {};
    injectContext(trace.setSpan(unsetInbound, trace.wrapSpanContext(sdkSpan)), plain);
    expect(plain.traceparent).toBe(`00-${TRACE_ID}-a1b2c3d4e5f60718-01`);
  });
});

describe('baggage limits', () => {
  const entries = (count: number, value = 'v'): string[] => Array.from({ length: count }, (_, i) => `key${i}=${value}${i}`);

  function inbound(header: string): string[] {
    return (propagation.getBaggage(extractContext({ baggage: header }))?.getAllEntries() ?? []).map(
      ([key, entry]) => `${key}=${entry.value}`,
    );
  }

  it('keeps the first 64 of 100 inbound entries, each intact', () => {
    const all = entries(100);
    expect(inbound(all.join(','))).toEqual(all.slice(0, MAX_BAGGAGE_ENTRIES));
  });

  it('cuts a 9 KB inbound header to at most 8192 bytes by whole entries', () => {
    const all = entries(40, 'x'.repeat(220));
    expect(all.join(',').length).toBeGreaterThan(9_000);
    const kept = inbound(all.join(','));
    expect(kept.length).toBeGreaterThan(0);
    expect(kept).toEqual(all.slice(0, kept.length));
    expect(Buffer.byteLength(kept.join(','))).toBeLessThanOrEqual(MAX_BAGGAGE_BYTES);
    expect(Buffer.byteLength(all.slice(0, kept.length + 1).join(','))).toBeGreaterThan(MAX_BAGGAGE_BYTES);
  });

  it('counts only valid entries towards the limit', () => {
    const header = [...Array.from({ length: 30 }, () => 'junk'), ...entries(70)].join(',');
    expect(inbound(header)).toEqual(entries(64));
  });

  it('limits outbound baggage to 64 entries and 8192 bytes, whole entries', () => {
    const many = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`key${i}`, { value: `v${i}` }]));
    const headers: HeaderRecord = {};
    injectContext(propagation.setBaggage(ROOT_CONTEXT, propagation.createBaggage(many)), headers);
    expect(headers.baggage).toBe(entries(64).join(','));

    const big = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`key${i}`, { value: 'x'.repeat(220) }]));
    const out: HeaderRecord = {};
    injectContext(propagation.setBaggage(ROOT_CONTEXT, propagation.createBaggage(big)), out);
    const header = out.baggage as string;
    expect(Buffer.byteLength(header)).toBeLessThanOrEqual(MAX_BAGGAGE_BYTES);
    for (const entry of header.split(',')) expect(entry).toMatch(/^key\d+=x{220}$/);
  });

  it('truncateBaggage measures bytes, not characters', () => {
    const wide = Array.from({ length: 20 }, (_, i) => `k${i}=v;p=${'é'.repeat(300)}`);
    const kept = truncateBaggage(wide.join(','));
    expect(Buffer.byteLength(kept)).toBeLessThanOrEqual(MAX_BAGGAGE_BYTES);
    expect(kept.split(',')).toEqual(wide.slice(0, kept.split(',').length));
    expect(truncateBaggage('a=1,,b=2, ')).toBe('a=1,b=2');
  });
});

describe('properties (10,000 random inputs each)', () => {
  const hex = (length: number): fc.Arbitrary<string> =>
    fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEF'), minLength: length - 1, maxLength: length + 1 });
  const nearTraceparent = fc
    .tuple(hex(2), hex(32), hex(16), hex(2), fc.constantFrom('', '-', '-x', ' '))
    .map(([v, t, s, f, tail]) => `${v}-${t}-${s}-${f}${tail}`);
  const anyString = fc.oneof(fc.string({ maxLength: 80 }), fc.string({ unit: 'binary', maxLength: 80 }));

  function checkContext(ctx: Context): void {
    const spanContext = trace.getSpanContext(ctx);
    if (spanContext !== undefined) {
      expect(isSpanContextValid(spanContext)).toBe(true);
      expect(spanContext.isRemote).toBe(true);
    }
    const out: HeaderRecord = {};
    injectContext(ctx, out);
    if (spanContext === undefined) expect(out.traceparent).toBeUndefined();
    else expect(out.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/);
  }

  it('traceparent: a valid remote parent or no span, never a throw', () => {
    fc.assert(
      fc.property(fc.oneof(anyString, nearTraceparent), (traceparent) => {
        checkContext(extractContext({ traceparent, tracestate: 'a=b' }));
      }),
      { numRuns: 10_000 },
    );
  });

  it('tracestate: valid members only, never a throw', () => {
    const member = fc.tuple(fc.stringMatching(/^[a-z0-9_*\/@-]{0,6}$/), fc.string({ maxLength: 8 })).map(([k, v]) => `${k}=${v}`);
    const tracestate = fc.oneof(anyString, fc.array(member, { maxLength: 40 }).map((m) => m.join(',')));
    fc.assert(
      fc.property(tracestate, (value) => {
        const ctx = extractContext({ traceparent: TRACEPARENT, tracestate: value });
        checkContext(ctx);
        const serialized = trace.getSpanContext(ctx)?.traceState?.serialize() ?? '';
        expect(serialized.length).toBeLessThanOrEqual(512);
        if (serialized !== '') expect(serialized.split(',').length).toBeLessThanOrEqual(32);
      }),
      { numRuns: 10_000 },
    );
  });

  it('baggage: within the limits, never a throw', () => {
    const entry = fc.tuple(fc.string({ maxLength: 6 }), fc.string({ maxLength: 6 })).map(([k, v]) => `${k}=${v}`);
    const baggage = fc.oneof(anyString, fc.array(entry, { maxLength: 80 }).map((e) => e.join(',')));
    fc.assert(
      fc.property(baggage, (value) => {
        const ctx = extractContext({ baggage: value });
        const count = propagation.getBaggage(ctx)?.getAllEntries().length ?? 0;
        expect(count).toBeLessThanOrEqual(MAX_BAGGAGE_ENTRIES);
        const out: HeaderRecord = {};
        injectContext(ctx, out);
        const header = out.baggage;
        if (typeof header === 'string') {
          expect(Buffer.byteLength(header)).toBeLessThanOrEqual(MAX_BAGGAGE_BYTES);
          expect(header.split(',').length).toBeLessThanOrEqual(MAX_BAGGAGE_ENTRIES);
        } else {
          expect(header).toBeUndefined();
        }
      }),
      { numRuns: 10_000 },
    );
  });
});

describe('what is ignored', () => {
  afterEach(() => diag.disable());

  function debugLines(run: () => void): string[] {
    const lines: string[] = [];
    const record = (message: string): void => void lines.push(message);
    const ignore = (): void => undefined;
    diag.setLogger({ debug: record, verbose: ignore, info: ignore, warn: ignore, error: ignore }, DiagLogLevel.DEBUG);
    run();
    return lines.filter((line) => line.startsWith('lifeline:'));
  }

  it('is logged at debug level through the api diag logger, never thrown', () => {
    expect(debugLines(() => extractContext({ traceparent: 'junk', baggage: 'no-equals' }))).toEqual([
      'lifeline: traceparent ignored: malformed (4 characters)',
      'lifeline: baggage ignored: no valid list-member',
    ]);
    expect(debugLines(() => extractContext({ traceparent: TRACEPARENT, tracestate: 'BAD=1' }))).toEqual([
      'lifeline: tracestate ignored: an invalid list-member, or more than 32',
    ]);
    expect(debugLines(() => extractContext({ traceparent: [TRACEPARENT, `00-${TRACE_ID}-${'1'.repeat(16)}-01`] }))).toEqual([
      'lifeline: traceparent ignored: repeated with different values',
    ]);
    expect(debugLines(() => extractContext({ traceparent: TRACEPARENT, tracestate: TRACESTATE, baggage: 'a=1' }))).toEqual([]);
  });

  it('passes the random flag on and clears reserved flags', () => {
    expect(roundTrip({ traceparent: `00-${TRACE_ID}-${SPAN_ID}-03` }).traceparent).toBe(`00-${TRACE_ID}-${SPAN_ID}-03`);
    expect(roundTrip({ traceparent: `00-${TRACE_ID}-${SPAN_ID}-f9` }).traceparent).toBe(`00-${TRACE_ID}-${SPAN_ID}-01`);
  });
});

import { isSpanContextValid, TraceFlags } from '@opentelemetry/api';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatTraceparent, parseTraceparent, RANDOM_TRACE_ID_FLAG } from './traceparent.ts';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN_ID = '00f067aa0ba902b7';
const SUITE_TRACE_ID = '12345678901234567890123456789012';
const SUITE_SPAN_ID = '1234567890123456';

describe('parseTraceparent', () => {
  it('reads the specification example as a remote span context', () => {
    expect(parseTraceparent(`00-${TRACE_ID}-${SPAN_ID}-01`)).toEqual({
      traceId: TRACE_ID,
      spanId: SPAN_ID,
      traceFlags: TraceFlags.SAMPLED,
      isRemote: true,
    });
    expect(parseTraceparent(`00-${TRACE_ID}-${SPAN_ID}-00`)?.traceFlags).toBe(TraceFlags.NONE);
  });

  it('keeps the sampled and random flags and clears the reserved ones', () => {
    expect(parseTraceparent(`00-${TRACE_ID}-${SPAN_ID}-02`)?.traceFlags).toBe(RANDOM_TRACE_ID_FLAG);
    expect(parseTraceparent(`00-${TRACE_ID}-${SPAN_ID}-03`)?.traceFlags).toBe(3);
    expect(parseTraceparent(`00-${TRACE_ID}-${SPAN_ID}-09`)?.traceFlags).toBe(1);
    expect(parseTraceparent(`00-${TRACE_ID}-${SPAN_ID}-ff`)?.traceFlags).toBe(3);
  });

  // The W3C test suite's traceparent cases (test/test.py), each of which must restart the trace.
  it.each([
    ['version 00 with a trailing dot', `00-${SUITE_TRACE_ID}-${SUITE_SPAN_ID}-01.`],
    ['version 00 with extra fields', `00-${SUITE_TRACE_ID}-${SUITE_SPAN_ID}-01-what-the-future-will-be-like`],
    ['future version without a dash after the flags', `cc-${SUITE_TRACE_ID}-${SUITE_SPAN_ID}-01.what-the-future-will-be-like`],
    ['version ff', `ff-${SUITE_TRACE_ID}-${SUITE_SPAN_ID}-01`],
    ['illegal version character (first)', `.0-${SUITE_TRACE_ID}-${SUITE_SPAN_ID}-01`],
    ['illegal version character (second)', `0.-${SUITE_TRACE_ID}-${SUITE_SPAN_ID}-01`],
    ['three-digit version', `000-${SUITE_TRACE_ID}-${SUITE_SPAN_ID}-01`],
    ['four-digit version', `0000-${SUITE_TRACE_ID}-${SUITE_SPAN_ID}-01`],
    ['one-digit version', `0-${SUITE_TRACE_ID}-${SUITE_SPAN_ID}-01`],
    ['all-zero trace id', `00-${'0'.repeat(32)}-${SUITE_SPAN_ID}-01`],
    ['illegal trace id character (first)', `00-.2345678901234567890123456789012-${SUITE_SPAN_ID}-01`],
    ['illegal trace id character (last)', `00-1234567890123456789012345678901.-${SUITE_SPAN_ID}-01`],
    ['33-digit trace id', `00-${SUITE_TRACE_ID}3-${SUITE_SPAN_ID}-01`],
    ['31-digit trace id', `00-${SUITE_TRACE_ID.slice(1)}-${SUITE_SPAN_ID}-01`],
    ['all-zero parent id', `00-${SUITE_TRACE_ID}-${'0'.repeat(16)}-01`],
    ['illegal parent id character (first)', `00-${SUITE_TRACE_ID}-.234567890123456-01`],
    ['illegal parent id character (last)', `00-${SUITE_TRACE_ID}-123456789012345.-01`],
    ['17-digit parent id', `00-${SUITE_TRACE_ID}-${SUITE_SPAN_ID}7-01`],
    ['15-digit parent id', `00-${SUITE_TRACE_ID}-${SUITE_SPAN_ID.slice(1)}-01`],
    ['illegal flags character (first)', `00-${SUITE_TRACE_ID}-${SUITE_SPAN_ID}-.0`],
    ['illegal flags character (last)', `00-${SUITE_TRACE_ID}-${SUITE_SPAN_ID}-0.`],
    ['three-digit flags', `00-${SUITE_TRACE_ID}-${SUITE_SPAN_ID}-001`],
    ['one-digit flags', `00-${SUITE_TRACE_ID}-${SUITE_SPAN_ID}-1`],
    ['upper-case trace id', `00-${TRACE_ID.toUpperCase()}-${SPAN_ID}-01`],
    ['upper-case version', `CC-${TRACE_ID}-${SPAN_ID}-01`],
    ['upper-case flags', `00-${TRACE_ID}-${SPAN_ID}-0A`],
    ['surrounding space (trimmed by the caller, not here)', ` 00-${TRACE_ID}-${SPAN_ID}-01`],
    ['empty', ''],
  ])('rejects %s', (_name, value) => {
    expect(parseTraceparent(value)).toBeUndefined();
  });

  it('reads a future version by its first four fields (the W3C versioning rules)', () => {
    const expected = { traceId: SUITE_TRACE_ID, spanId: SUITE_SPAN_ID, traceFlags: 1, isRemote: true };
    expect(parseTraceparent(`cc-${SUITE_TRACE_ID}-${SUITE_SPAN_ID}-01`)).toEqual(expected);
    expect(parseTraceparent(`cc-${SUITE_TRACE_ID}-${SUITE_SPAN_ID}-01-what-the-future-will-be-like`)).toEqual(expected);
    expect(parseTraceparent(`01-${SUITE_TRACE_ID}-${SUITE_SPAN_ID}-01-`)).toEqual(expected);
    expect(parseTraceparent(`cc-${SUITE_TRACE_ID}-${SUITE_SPAN_ID}-0`)).toBeUndefined(); // 54 characters
  });
});

describe('formatTraceparent', () => {
  it('writes version 00 with two-digit flags', () => {
    expect(formatTraceparent({ traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: TraceFlags.SAMPLED })).toBe(
      '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    );
    expect(formatTraceparent({ traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: TraceFlags.NONE })).toBe(
      '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00',
    );
    expect(formatTraceparent({ traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 0xff })).toBe(
      '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03',
    );
  });

  it('writes a future version down as 00, as the specification requires', () => {
    const parsed = parseTraceparent(`cc-${TRACE_ID}-${SPAN_ID}-01-future-part`)!;
    expect(formatTraceparent(parsed)).toBe(`00-${TRACE_ID}-${SPAN_ID}-01`);
  });

  it.each([
    ['upper-case trace id (the api accepts it)', { traceId: TRACE_ID.toUpperCase(), spanId: SPAN_ID, traceFlags: 1 }],
    ['all-zero trace id', { traceId: '0'.repeat(32), spanId: SPAN_ID, traceFlags: 1 }],
    ['all-zero span id', { traceId: TRACE_ID, spanId: '0'.repeat(16), traceFlags: 1 }],
    ['short span id', { traceId: TRACE_ID, spanId: SPAN_ID.slice(1), traceFlags: 1 }],
    ['a span id with a line break', { traceId: TRACE_ID, spanId: `${SPAN_ID.slice(2)}\r\n`, traceFlags: 1 }],
  ])('writes nothing for an invalid span context: %s', (_name, spanContext) => {
    expect(isSpanContextValid(spanContext)).toBe(_name.startsWith('upper'));
    expect(formatTraceparent(spanContext)).toBeUndefined();
  });
});

describe('properties (10,000 random inputs each)', () => {
  const lowerHex = (length: number): fc.Arbitrary<string> =>
    fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: length, maxLength: length });
  const traceId = lowerHex(32).filter((id) => id !== '0'.repeat(32));
  const spanId = lowerHex(16).filter((id) => id !== '0'.repeat(16));
  const nearMiss = fc
    .tuple(
      fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEF-'), minLength: 1, maxLength: 3 }),
      fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEF'), minLength: 31, maxLength: 33 }),
      fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEF'), minLength: 15, maxLength: 17 }),
      fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 1, maxLength: 3 }),
      fc.constantFrom('', '-', '-x', '.x', ' '),
    )
    .map(([v, t, s, f, tail]) => `${v}-${t}-${s}-${f}${tail}`);
  const anyString = fc.oneof(fc.string({ maxLength: 80 }), fc.string({ unit: 'binary', maxLength: 80 }), nearMiss);

  it('any string parses to a valid remote span context or is rejected, never throws', () => {
    fc.assert(
      fc.property(anyString, (value) => {
        const parsed = parseTraceparent(value);
        if (parsed === undefined) return;
        expect(isSpanContextValid(parsed)).toBe(true);
        expect(parsed.isRemote).toBe(true);
        expect(value.slice(3, 52)).toBe(`${parsed.traceId}-${parsed.spanId}`);
        expect(formatTraceparent(parsed)).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[0-3]$/);
      }),
      { numRuns: 10_000 },
    );
  });

  it('format(parse(x)) is x for every valid version 00 value with defined flags', () => {
    const valid = fc
      .tuple(traceId, spanId, fc.constantFrom('00', '01', '02', '03'))
      .map(([t, s, f]) => `00-${t}-${s}-${f}`);
    fc.assert(
      fc.property(valid, (value) => {
        expect(formatTraceparent(parseTraceparent(value)!)).toBe(value);
      }),
      { numRuns: 10_000 },
    );
  });

  it('a future version with any extra fields reads as its version 00 equivalent', () => {
    const version = lowerHex(2).filter((v) => v !== '00' && v !== 'ff');
    const future = fc.tuple(version, traceId, spanId, fc.constantFrom('00', '01'), fc.string({ maxLength: 20 }));
    fc.assert(
      fc.property(future, ([v, t, s, f, extra]) => {
        expect(formatTraceparent(parseTraceparent(`${v}-${t}-${s}-${f}-${extra}`)!)).toBe(`00-${t}-${s}-${f}`);
      }),
      { numRuns: 10_000 },
    );
  });
});

import { Deadline, ManualClock } from '@lifeline/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatDeadlineHeader, MAX_DEADLINE_MS, parseDeadlineHeaders, parseGrpcTimeout, readDeadlineMs } from './deadline-header.ts';
import { ENVOY_TIMEOUT, GRPC_TIMEOUT, REQUEST_TIMEOUT } from './headers.ts';

describe('parseGrpcTimeout', () => {
  it('converts every unit to milliseconds, rounding up', () => {
    expect(parseGrpcTimeout('2H')).toBe(7_200_000);
    expect(parseGrpcTimeout('3M')).toBe(180_000);
    expect(parseGrpcTimeout('2S')).toBe(2_000);
    expect(parseGrpcTimeout('250m')).toBe(250);
    expect(parseGrpcTimeout('1500u')).toBe(2);
    expect(parseGrpcTimeout('1u')).toBe(1);
    expect(parseGrpcTimeout('1000000n')).toBe(1);
    expect(parseGrpcTimeout('1000001n')).toBe(2);
    expect(parseGrpcTimeout('0m')).toBe(0);
    expect(parseGrpcTimeout('99999999m')).toBe(99_999_999);
  });

  it('rejects malformed, too long and oversized values', () => {
    for (const bad of ['', '5', 'm', '-5m', '+5m', '5 m', ' 5m', '5ms', '123456789m', '1.5S', '5h', '5s', '99999999H', '5K']) {
      expect(parseGrpcTimeout(bad), bad).toBeUndefined();
    }
  });
});

describe('parseDeadlineHeaders', () => {
  it('returns the smallest valid budget among the three headers', () => {
    expect(parseDeadlineHeaders({ [REQUEST_TIMEOUT]: '900', [GRPC_TIMEOUT]: '1S', [ENVOY_TIMEOUT]: '15000' })).toEqual({
      ms: 900,
      ignored: [],
    });
    expect(readDeadlineMs({ [REQUEST_TIMEOUT]: '900', [GRPC_TIMEOUT]: '300m' })).toBe(300);
    expect(readDeadlineMs({ [ENVOY_TIMEOUT]: '120' })).toBe(120);
    expect(readDeadlineMs({ [REQUEST_TIMEOUT]: '0' })).toBe(0);
    expect(readDeadlineMs({})).toBeUndefined();
    expect(parseDeadlineHeaders({ host: 'x' })).toEqual({ ms: undefined, ignored: [] });
  });

  it('ignores malformed, negative and oversized values and names them', () => {
    expect(parseDeadlineHeaders({ [REQUEST_TIMEOUT]: '-5', [GRPC_TIMEOUT]: '2S' })).toEqual({
      ms: 2_000,
      ignored: [REQUEST_TIMEOUT],
    });
    expect(parseDeadlineHeaders({ [REQUEST_TIMEOUT]: '12345678901' }).ignored).toEqual([REQUEST_TIMEOUT]);
    expect(parseDeadlineHeaders({ [REQUEST_TIMEOUT]: String(MAX_DEADLINE_MS + 1) }).ignored).toEqual([REQUEST_TIMEOUT]);
    expect(readDeadlineMs({ [REQUEST_TIMEOUT]: String(MAX_DEADLINE_MS) })).toBe(MAX_DEADLINE_MS);
    expect(parseDeadlineHeaders({ [REQUEST_TIMEOUT]: '1.5' }).ignored).toEqual([REQUEST_TIMEOUT]);
    expect(parseDeadlineHeaders({ [REQUEST_TIMEOUT]: '' }).ignored).toEqual([REQUEST_TIMEOUT]);
    expect(parseDeadlineHeaders({ [REQUEST_TIMEOUT]: '1e3' }).ignored).toEqual([REQUEST_TIMEOUT]);
    expect(parseDeadlineHeaders({ [GRPC_TIMEOUT]: 'soon', [ENVOY_TIMEOUT]: 'x' }).ignored).toEqual([GRPC_TIMEOUT, ENVOY_TIMEOUT]);
  });

  it('takes the smallest valid value of a repeated header: an inbound deadline only ever shortens', () => {
    expect(parseDeadlineHeaders({ [REQUEST_TIMEOUT]: ['100', '200'] })).toEqual({ ms: 100, ignored: [] });
    expect(parseDeadlineHeaders({ [REQUEST_TIMEOUT]: ['900', '250'] })).toEqual({ ms: 250, ignored: [] });
    expect(parseDeadlineHeaders({ [REQUEST_TIMEOUT]: '300, 200' })).toEqual({ ms: 200, ignored: [] });
    expect(parseDeadlineHeaders({ [GRPC_TIMEOUT]: '2S, 500m' })).toEqual({ ms: 500, ignored: [] });
    expect(parseDeadlineHeaders({ 'x-request-timeout-ms': '70', 'X-REQUEST-TIMEOUT-MS': '80' })).toEqual({ ms: 70, ignored: [] });
    // A malformed value beside valid ones is ignored (and named); the valid ones still count.
    expect(parseDeadlineHeaders({ [REQUEST_TIMEOUT]: ['abc', '400'] })).toEqual({ ms: 400, ignored: [REQUEST_TIMEOUT] });
    expect(parseDeadlineHeaders({ [REQUEST_TIMEOUT]: '400, -1' })).toEqual({ ms: 400, ignored: [REQUEST_TIMEOUT] });
    // Across headers too: the smallest of all wins.
    expect(parseDeadlineHeaders({ [REQUEST_TIMEOUT]: '5000', [GRPC_TIMEOUT]: '1S', [ENVOY_TIMEOUT]: ['800', '3000'] })).toEqual({ ms: 800, ignored: [] });
  });

  it('accepts identical repeated values, surrounding whitespace and any name spelling', () => {
    expect(readDeadlineMs({ [REQUEST_TIMEOUT]: ['100', '100'] })).toBe(100);
    expect(readDeadlineMs({ [REQUEST_TIMEOUT]: '100, 100' })).toBe(100);
    expect(readDeadlineMs({ [REQUEST_TIMEOUT]: ' 100\t' })).toBe(100);
    expect(readDeadlineMs({ 'X-Request-Timeout-Ms': '70' })).toBe(70);
  });

  it('never throws on hostile inputs', () => {
    const hostile: unknown[] = [null, undefined, 42, 'str', [], { [REQUEST_TIMEOUT]: 5 }, { [REQUEST_TIMEOUT]: [5, '5'] }];
    for (const input of hostile) {
      expect(() => parseDeadlineHeaders(input as Record<string, string>)).not.toThrow();
    }
  });

  it('property: 10,000 random values per header never throw and give a valid budget or a named rejection', () => {
    const value = fc.oneof(
      fc.string({ maxLength: 16 }),
      fc.string({ unit: 'binary', maxLength: 16 }),
      fc.stringMatching(/^-?\d{0,12}[HMSmun]?$/),
      fc.array(fc.stringMatching(/^\d{1,4}$/), { maxLength: 3 }),
    );
    for (const name of [REQUEST_TIMEOUT, GRPC_TIMEOUT, ENVOY_TIMEOUT]) {
      fc.assert(
        fc.property(value, (v) => {
          const { ms, ignored } = parseDeadlineHeaders({ [name]: v });
          if (Array.isArray(v) && v.length === 0) {
            expect({ ms, ignored }).toEqual({ ms: undefined, ignored: [] });
          } else if (ms === undefined) {
            expect(ignored).toEqual([name]);
          } else {
            // Valid, and named as ignored only when a malformed value came with it.
            expect(ignored.length === 0 || (ignored.length === 1 && ignored[0] === name)).toBe(true);
            expect(Number.isInteger(ms) && ms >= 0 && ms <= MAX_DEADLINE_MS).toBe(true);
          }
        }),
        { numRuns: 10_000 },
      );
    }
  });
});

describe('formatDeadlineHeader', () => {
  it('writes whole milliseconds, rounded down, clamped to [0, MAX_DEADLINE_MS]', () => {
    expect(formatDeadlineHeader(742.9)).toBe('742');
    expect(formatDeadlineHeader(0)).toBe('0');
    expect(formatDeadlineHeader(-20)).toBe('0');
    expect(formatDeadlineHeader(Infinity)).toBe(String(MAX_DEADLINE_MS));
    expect(readDeadlineMs({ [REQUEST_TIMEOUT]: formatDeadlineHeader(1e15) })).toBe(MAX_DEADLINE_MS);
  });

  it('accepts a Deadline', () => {
    const clock = new ManualClock(1_000);
    const deadline = Deadline.after(500, clock);
    clock.advance(120);
    expect(formatDeadlineHeader(deadline)).toBe('380');
    clock.advance(1_000);
    expect(formatDeadlineHeader(deadline)).toBe('0');
  });

  it('rejects NaN with a clear error', () => {
    expect(() => formatDeadlineHeader(Number.NaN)).toThrow(/remainingMs.*NaN/);
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseRetryAfter } from './retry-after.ts';

const NOW = Date.UTC(2026, 0, 15, 12, 0, 0);

describe('parseRetryAfter', () => {
  describe('delay-seconds', () => {
    it('reads the RFC 9110 §10.2.3 example', () => {
      expect(parseRetryAfter('120')).toBe(120_000);
    });

    it('reads zero and leading zeros', () => {
      expect(parseRetryAfter('0')).toBe(0);
      expect(parseRetryAfter('007')).toBe(7_000);
    });

    it('trims OWS (space and tab) around the value', () => {
      expect(parseRetryAfter('  120\t')).toBe(120_000);
      expect(parseRetryAfter('\t 5 ')).toBe(5_000);
    });

    it.each([
      '1.5',
      '-1',
      '+1',
      '1e3',
      '0x10',
      ' 12abc',
      '12 34',
      '',
      '   ',
      '\u00a0120', // a no-break space is not OWS
      '１２０', // full-width digits
      '١٢٠', // Arabic-Indic digits
      'Infinity',
      'NaN',
    ])('rejects %j', (value) => {
      expect(parseRetryAfter(value)).toBeUndefined();
    });

    it('returns a finite number for long digit strings, and undefined once they overflow', () => {
      expect(parseRetryAfter('99999999999999999999')).toBe(99999999999999999999 * 1000);
      expect(parseRetryAfter('9'.repeat(305))).toBe(1e308); // just below Number.MAX_VALUE
      expect(parseRetryAfter('9'.repeat(306))).toBeUndefined(); // 1e306 s is finite, 1e309 ms is not
      expect(parseRetryAfter('9'.repeat(10_000))).toBeUndefined();
    });

    it('does not depend on the clock', () => {
      expect(parseRetryAfter('3', Number.NaN)).toBe(3_000);
    });
  });

  describe('HTTP-date', () => {
    it('reads the RFC 9110 §10.2.3 example', () => {
      const now = Date.UTC(1999, 11, 31, 23, 59, 0);
      expect(parseRetryAfter('Fri, 31 Dec 1999 23:59:59 GMT', now)).toBe(59_000);
    });

    it('reads the three forms of the RFC 9110 §5.6.7 example as the same instant', () => {
      const instant = Date.UTC(1994, 10, 6, 8, 49, 37);
      const now = instant - 5_000;
      expect(parseRetryAfter('Sun, 06 Nov 1994 08:49:37 GMT', now)).toBe(5_000);
      expect(parseRetryAfter('Sunday, 06-Nov-94 08:49:37 GMT', now)).toBe(5_000);
      expect(parseRetryAfter('Sun Nov  6 08:49:37 1994', now)).toBe(5_000);
      expect(parseRetryAfter('Sun Nov 06 08:49:37 1994', now)).toBe(5_000);
    });

    it('reads asctime as UTC, whatever the local time zone', () => {
      const now = Date.UTC(2026, 0, 15, 11, 0, 0);
      expect(parseRetryAfter('Thu Jan 15 12:00:00 2026', now)).toBe(3_600_000);
    });

    it('measures from now, defaulting to Date.now()', () => {
      expect(parseRetryAfter('Thu, 15 Jan 2026 12:00:30 GMT', NOW)).toBe(30_000);
      const soon = new Date(Date.now() + 10_000).toUTCString();
      const wait = parseRetryAfter(soon);
      expect(wait).toBeGreaterThan(8_000);
      expect(wait).toBeLessThanOrEqual(10_000);
    });

    it('treats a date in the past, or now, as no wait', () => {
      expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:00 GMT', NOW)).toBe(0);
      expect(parseRetryAfter('Thu, 15 Jan 2026 12:00:00 GMT', NOW)).toBe(0);
    });

    it('trims OWS around a date', () => {
      expect(parseRetryAfter(' Thu, 15 Jan 2026 12:00:30 GMT\t', NOW)).toBe(30_000);
    });

    it('reads two-digit RFC 850 years per RFC 9110: never more than 50 years ahead', () => {
      const now = Date.UTC(2026, 0, 1);
      // 2030 is ahead but within 50 years; 94 would be 2094, so it is 1994 (past: 0).
      expect(parseRetryAfter('Wednesday, 01-Jan-30 00:00:00 GMT', now)).toBe(Date.UTC(2030, 0, 1) - now);
      expect(parseRetryAfter('Sunday, 06-Nov-94 08:49:37 GMT', now)).toBe(0);
      // Near a century's end, a small two-digit year is the next century's.
      const late = Date.UTC(2099, 0, 1);
      expect(parseRetryAfter('Saturday, 01-Jan-00 00:00:00 GMT', late)).toBe(Date.UTC(2100, 0, 1) - late);
    });

    it('keeps four-digit years below 100 as written (no 19xx mapping)', () => {
      const year49 = new Date(0);
      year49.setUTCFullYear(49, 0, 1);
      expect(parseRetryAfter('Sat, 01 Jan 0050 00:00:00 GMT', year49.getTime())).toBe(365 * 86_400_000);
    });

    it('accepts a leap second and leap days', () => {
      const now = Date.UTC(2016, 11, 31, 23, 59, 0);
      expect(parseRetryAfter('Sat, 31 Dec 2016 23:59:60 GMT', now)).toBe(60_000);
      expect(parseRetryAfter('Thu, 29 Feb 2024 00:00:00 GMT', Date.UTC(2024, 1, 28))).toBe(86_400_000);
    });

    it.each([
      'Mon, 30 Feb 2015 07:28:00 GMT', // no such day
      'Thu, 29 Feb 2025 00:00:00 GMT', // not a leap year
      'Wed, 00 Oct 2015 07:28:00 GMT',
      'Wed, 32 Oct 2015 07:28:00 GMT',
      'Wed, 21 Oct 2015 24:00:00 GMT',
      'Wed, 21 Oct 2015 07:60:00 GMT',
      'Wed, 21 Oct 2015 07:28:61 GMT',
      'Wed, 21 Oct 2015 07:28:00 UTC',
      'Wed, 21 Oct 2015 07:28:00 +0000',
      'Wed, 21 Oct 2015 07:28:00',
      'wed, 21 oct 2015 07:28:00 gmt', // HTTP-date is case-sensitive
      'Wed, 21 Oct 2015 7:28:00 GMT',
      'Wed, 1 Oct 2015 07:28:00 GMT',
      'Wed,  21 Oct 2015 07:28:00 GMT',
      'Wed 21 Oct 2015 07:28:00 GMT',
      'Wednesday, 21 Oct 2015 07:28:00 GMT',
      'Wed, 21-Oct-15 07:28:00 GMT',
      'Wed Oct 21 07:28:00 2015 GMT',
      'Sun Nov 6 08:49:37 1994',
      '2015-10-21T07:28:00Z',
      'Wed Oct 21 2015',
      'tomorrow',
    ])('rejects %j', (value) => {
      expect(parseRetryAfter(value, Date.UTC(2000, 0, 1))).toBeUndefined();
    });

    it('is undefined when the clock is not a finite number', () => {
      expect(parseRetryAfter('Thu, 15 Jan 2026 12:00:30 GMT', Number.NaN)).toBeUndefined();
      expect(parseRetryAfter('Thu, 15 Jan 2026 12:00:30 GMT', Infinity)).toBeUndefined();
    });
  });

  describe('duplicates and odd input', () => {
    it('uses duplicate header lines only when they agree', () => {
      expect(parseRetryAfter(['120', '120'])).toBe(120_000);
      expect(parseRetryAfter(['120 ', ' 120'])).toBe(120_000);
      expect(parseRetryAfter(['120'])).toBe(120_000);
      expect(parseRetryAfter(['120', '60'])).toBeUndefined();
      expect(parseRetryAfter(['120', 'soon'])).toBeUndefined();
      expect(parseRetryAfter([])).toBeUndefined();
    });

    it('is undefined for a missing header', () => {
      expect(parseRetryAfter(undefined)).toBeUndefined();
    });

    it('never throws on values a JavaScript caller might pass', () => {
      for (const value of [null, 42, {}, [42], ['1', null], [undefined], Symbol('x'), () => 1]) {
        expect(parseRetryAfter(value as unknown as string)).toBeUndefined();
      }
    });
  });

  describe('properties', () => {
    const valid = (result: number | undefined): boolean =>
      result === undefined || (Number.isFinite(result) && result >= 0);

    it('never throws and returns undefined or a finite wait >= 0 for any string', () => {
      fc.assert(fc.property(fc.string(), (s) => valid(parseRetryAfter(s))));
      fc.assert(fc.property(fc.string({ unit: 'binary' }), (s) => valid(parseRetryAfter(s))));
      fc.assert(fc.property(fc.string({ unit: 'grapheme' }), (s) => valid(parseRetryAfter(s))));
    });

    it('never throws for arrays and any clock', () => {
      fc.assert(
        fc.property(fc.array(fc.string()), fc.double(), (values, now) => valid(parseRetryAfter(values, now))),
      );
    });

    it('never throws for strings built from the grammar’s own pieces', () => {
      const piece = fc.constantFrom(
        ...['Sun', 'Sunday', ',', ' ', '-', ':', 'Nov', 'GMT', '06', '6', '94', '1994', '08', '49', '37', '9', '0'],
      );
      const text = fc.array(piece, { maxLength: 12 }).map((parts) => parts.join(''));
      fc.assert(fc.property(text, fc.integer(), (s, now) => valid(parseRetryAfter(s, now))));
    });

    it('reads any delay-seconds exactly', () => {
      fc.assert(
        fc.property(fc.nat(), fc.nat({ max: 3 }), (seconds, zeros) => {
          expect(parseRetryAfter('0'.repeat(zeros) + String(seconds))).toBe(seconds * 1000);
        }),
      );
    });

    it('round-trips any date through toUTCString (IMF-fixdate)', () => {
      const dates = fc.date({ min: new Date('1000-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true });
      fc.assert(
        fc.property(dates, dates, (at, now) => {
          const whole = Math.floor(at.getTime() / 1000) * 1000;
          expect(parseRetryAfter(at.toUTCString(), now.getTime())).toBe(Math.max(0, whole - now.getTime()));
        }),
      );
    });
  });
});

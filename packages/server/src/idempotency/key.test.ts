import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fingerprint, parseIdempotencyKey } from './key.ts';

describe('parseIdempotencyKey', () => {
  it('is undefined when the header is absent', () => {
    expect(parseIdempotencyKey(undefined)).toBeUndefined();
    expect(parseIdempotencyKey([])).toBeUndefined();
  });

  it('accepts the unquoted and the quoted (sf-string) forms', () => {
    expect(parseIdempotencyKey('8e03978e-40d5-43e8-bc93-6894a57f9324')).toEqual({ key: '8e03978e-40d5-43e8-bc93-6894a57f9324' });
    expect(parseIdempotencyKey('"8e03978e-40d5"')).toEqual({ key: '8e03978e-40d5' });
    expect(parseIdempotencyKey('  abc\t')).toEqual({ key: 'abc' });
    expect(parseIdempotencyKey('"with space, comma"')).toEqual({ key: 'with space, comma' });
    expect(parseIdempotencyKey(String.raw`"a\"b\\c"`)).toEqual({ key: 'a"b\\c' });
    expect(parseIdempotencyKey(['single'])).toEqual({ key: 'single' });
  });

  it('bounds the length to 1..255 after unquoting', () => {
    expect(parseIdempotencyKey('x'.repeat(255))).toEqual({ key: 'x'.repeat(255) });
    expect(parseIdempotencyKey(`"${'x'.repeat(255)}"`)).toEqual({ key: 'x'.repeat(255) });
    expect(parseIdempotencyKey('x'.repeat(256))).toHaveProperty('error');
    expect(parseIdempotencyKey(`"${'x'.repeat(256)}"`)).toHaveProperty('error');
    expect(parseIdempotencyKey('')).toHaveProperty('error');
    expect(parseIdempotencyKey('   ')).toHaveProperty('error');
    expect(parseIdempotencyKey('""')).toHaveProperty('error');
  });

  it('rejects malformed values', () => {
    for (const bad of ['"abc', '"a"b', 'a"b', 'a\\b', String.raw`"a\b"`, '"a\\', 'a b', 'a,b', 'a, b', '"a", "b"', 'é', '"é"', 'a\u0000', '"\u0007"', '"a";p=1']) {
      expect(parseIdempotencyKey(bad), bad).toHaveProperty('error');
    }
    expect(parseIdempotencyKey(['a', 'b'])).toEqual({ error: 'Idempotency-Key must be sent once' });
    expect(parseIdempotencyKey(42 as unknown as string)).toEqual({ error: 'Idempotency-Key must be a string' });
    expect(parseIdempotencyKey([null] as unknown as string[])).toEqual({ error: 'Idempotency-Key must be a string' });
  });

  it('takes an unquoted key as it is, even one that reads as another Structured Fields type', () => {
    // Compatibility with clients that send the bare key (DESIGN §4): no Structured Fields parse.
    for (const bare of [':AQID:', '?1', '42', '1.5', '@1659578233', 'tok/en:1', '*', 'a;b=1', '%x']) {
      expect(parseIdempotencyKey(bare), bare).toEqual({ key: bare });
    }
  });

  it('refuses any Structured Fields value other than one String without parameters', () => {
    for (const other of ['%"caf%c3%a9"', '"a";p=1', '"a"; p="x y"', '?1;p="x y"', '1;p="x y"', ':AQID:;p="x y"', '("a" "b")']) {
      expect(parseIdempotencyKey(other), other).toHaveProperty('error');
    }
  });

  it('says which rule a refused key broke', () => {
    expect(parseIdempotencyKey('"a", "b"')).toEqual({ error: 'Idempotency-Key must be sent once' });
    expect(parseIdempotencyKey('a, b')).toEqual({ error: 'Idempotency-Key must be sent once (it contains a comma: a repeated header?)' });
    expect(parseIdempotencyKey('a"b')).toEqual({ error: 'Idempotency-Key must quote a key containing `"` or `\\`' });
    expect(parseIdempotencyKey('two words')).toEqual({ error: 'Idempotency-Key must be printable ASCII without spaces (or a quoted string)' });
    const quoted = 'Idempotency-Key must be one quoted string of printable ASCII, with `\\"` and `\\\\` as its only escapes';
    for (const bad of ['"abc', String.raw`"a\b"`, '"é"', '"a";p=1', '"a" "b"']) expect(parseIdempotencyKey(bad), bad).toEqual({ error: quoted });
    expect(parseIdempotencyKey('""')).toEqual({ error: 'Idempotency-Key must not be empty' });
  });

  it('never throws and always returns a valid key or an error (fast-check, 10 000 runs each)', () => {
    const check = (result: ReturnType<typeof parseIdempotencyKey>): void => {
      expect(result).toBeDefined();
      if (result === undefined) return;
      if ('key' in result) {
        expect(result.key.length).toBeGreaterThanOrEqual(1);
        expect(result.key.length).toBeLessThanOrEqual(255);
        expect(result.key).toMatch(/^[\x20-\x7e]+$/);
      } else {
        expect(typeof result.error).toBe('string');
        expect(result.error.length).toBeGreaterThan(0);
      }
    };
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (s) => check(parseIdempotencyKey(s))), { numRuns: 10_000 });
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('"', '\\', ' ', ',', 'a', '\t', '\u0000', '~'), maxLength: 300 }), (s) =>
        check(parseIdempotencyKey(s)),
      ),
      { numRuns: 10_000 },
    );
    fc.assert(
      fc.property(fc.array(fc.string(), { minLength: 1, maxLength: 3 }), (a) => check(parseIdempotencyKey(a))),
      { numRuns: 2_000 },
    );
  });

  it('round-trips any valid key through the sf-string form', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 255 }), (key) => {
        const quoted = `"${key.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
        expect(parseIdempotencyKey(quoted)).toEqual({ key });
      }),
      { numRuns: 2_000 },
    );
  });
});

describe('fingerprint', () => {
  it('is a SHA-256 hex that depends on method, path and body', () => {
    const base = fingerprint('POST', '/v1/charges', '{"amount":100}');
    expect(base).toMatch(/^[0-9a-f]{64}$/);
    expect(fingerprint('POST', '/v1/charges', new TextEncoder().encode('{"amount":100}'))).toBe(base);
    expect(fingerprint('PUT', '/v1/charges', '{"amount":100}')).not.toBe(base);
    expect(fingerprint('POST', '/v1/charges?x=1', '{"amount":100}')).not.toBe(base);
    expect(fingerprint('POST', '/v1/charges', '{"amount":101}')).not.toBe(base);
    expect(fingerprint('POST', '/a', '\nb')).not.toBe(fingerprint('POST', '/a\n', 'b'));
  });
});

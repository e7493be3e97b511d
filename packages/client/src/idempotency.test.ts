import fc from 'fast-check';
import { parseItem } from 'structured-headers';
import { describe, expect, it } from 'vitest';
import { isIdempotentMethod, newIdempotencyKey, quoteIdempotencyKey } from './idempotency.ts';

describe('quoteIdempotencyKey', () => {
  it('serialises a key as a Structured Fields String', () => {
    expect(quoteIdempotencyKey('order-17')).toBe('"order-17"');
    expect(quoteIdempotencyKey('with space, comma')).toBe('"with space, comma"');
    expect(quoteIdempotencyKey('has"quote')).toBe(String.raw`"has\"quote"`);
    expect(quoteIdempotencyKey(String.raw`back\slash`)).toBe(String.raw`"back\\slash"`);
  });

  it('sends a key that already is one sf-string as it is', () => {
    expect(quoteIdempotencyKey('"order-17"')).toBe('"order-17"');
    expect(quoteIdempotencyKey(String.raw`"a\"b"`)).toBe(String.raw`"a\"b"`);
  });

  it('quotes a key that only looks quoted, as the characters it holds', () => {
    // Not one sf-string: the quotes are part of the key.
    expect(quoteIdempotencyKey('"abc')).toBe(String.raw`"\"abc"`);
    expect(quoteIdempotencyKey('"a"b"')).toBe(String.raw`"\"a\"b\""`);
    expect(quoteIdempotencyKey('"a";p=1')).toBe(String.raw`"\"a\";p=1"`);
  });

  it('refuses, naming the option, a key that cannot be an sf-string', () => {
    for (const bad of ['clé', 'line\nbreak', 'tab\there', 'nul\u0000', '😀', 'cr\r']) {
      expect(() => quoteIdempotencyKey(bad), JSON.stringify(bad)).toThrow(TypeError);
      expect(() => quoteIdempotencyKey(bad)).toThrow(/^lifeline: option `idempotencyKey` must be printable ASCII/);
    }
    expect(() => quoteIdempotencyKey('')).toThrow('lifeline: option `idempotencyKey` must not be empty, got ""');
    expect(() => quoteIdempotencyKey('""')).toThrow(/`idempotencyKey` must not be empty/);
    expect(() => quoteIdempotencyKey(17 as unknown as string)).toThrow('lifeline: option `idempotencyKey` must be a string, got 17');
  });

  it('gives, for any printable ASCII key, one sf-string holding exactly that key (fast-check)', () => {
    const printable = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 64 });
    fc.assert(
      fc.property(printable, (key) => {
        // A key that opens with a quote and is one sf-string holding nothing (`""`, `"" `) is empty: refused.
        if (holdsEmptyString(key)) {
          expect(() => quoteIdempotencyKey(key)).toThrow(/`idempotencyKey` must not be empty/);
          return;
        }
        const value = quoteIdempotencyKey(key);
        const [bare, params] = parseItem(value);
        expect(params.size).toBe(0);
        // Either the key was already one sf-string (sent as is), or the value holds the key.
        expect(bare === key || value === key).toBe(true);
      }),
      { numRuns: 2_000 },
    );
  });
});

function holdsEmptyString(key: string): boolean {
  if (!key.startsWith('"')) return false;
  try {
    const [bare, params] = parseItem(key);
    return bare === '' && params.size === 0;
  } catch {
    return false;
  }
}

describe('newIdempotencyKey', () => {
  it('is a fresh quoted UUID each time', () => {
    const a = newIdempotencyKey();
    expect(a).toMatch(/^"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"$/);
    expect(parseItem(a)[0]).toBe(a.slice(1, -1));
    expect(newIdempotencyKey()).not.toBe(a);
  });
});

describe('isIdempotentMethod', () => {
  it('follows RFC 9110 §9.2.2', () => {
    for (const method of ['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE', 'QUERY']) expect(isIdempotentMethod(method)).toBe(true);
    for (const method of ['POST', 'PATCH', 'CONNECT']) expect(isIdempotentMethod(method)).toBe(false);
  });
});

import { describe, expect, it } from 'vitest';
import { readCallHeaders } from './call-headers.ts';
import { headerValue, isHeaderName } from './header-value.ts';

const read = (headers: Parameters<typeof readCallHeaders>[0]) => ({ ...readCallHeaders(headers) });

describe('readCallHeaders', () => {
  it('finds the request id, the Idempotency-Key and the content length in a record, in any case', () => {
    expect(read({ accept: '*/*', 'X-Request-Id': 'r-1', 'IDEMPOTENCY-KEY': '"k"', 'Content-Length': '12', 'user-agent': 'u' })).toEqual({
      requestId: 'r-1',
      idempotencyKey: '"k"',
      contentLength: '12',
    });
  });

  it('reads a flat array and an iterable of pairs alike', () => {
    const want = { requestId: 'r-2', idempotencyKey: '"k2"', contentLength: '3' };
    expect(read(['x-request-id', 'r-2', 'Idempotency-Key', '"k2"', 'content-length', '3'])).toEqual(want);
    expect(read(new Map([['X-Request-ID', 'r-2'], ['idempotency-key', '"k2"'], ['Content-length', '3']]))).toEqual(want);
  });

  it('takes the first value of a name, and the first of several values', () => {
    expect(read(['x-request-id', 'first', 'X-Request-Id', 'second'])).toMatchObject({ requestId: 'first' });
    expect(read({ 'x-request-id': ['a', 'b'] })).toMatchObject({ requestId: 'a' });
  });

  it('does not take a name of the same length for one of its own', () => {
    // 15, 14 and 12 characters, like idempotency-key, content-length and x-request-id.
    expect(read({ 'accept-language': 'en', 'accept-encoding': 'gzip', 'sec-fetch-mode': 'cors', 'x-request-ix': 'no' })).toEqual({
      requestId: undefined,
      idempotencyKey: undefined,
      contentLength: undefined,
    });
  });

  it('forgets what an earlier scan found', () => {
    readCallHeaders({ 'x-request-id': 'r-3', 'idempotency-key': '"k3"', 'content-length': '1' });
    expect(read(undefined)).toEqual({ requestId: undefined, idempotencyKey: undefined, contentLength: undefined });
    readCallHeaders({ 'x-request-id': 'r-3' });
    expect(read({})).toEqual({ requestId: undefined, idempotencyKey: undefined, contentLength: undefined });
  });
});

describe('isHeaderName', () => {
  it('matches exactly what lower-casing would, for every ASCII character', () => {
    const name = 'x-request-id';
    for (let code = 0; code < 128; code++) {
      const char = String.fromCharCode(code);
      for (let at = 0; at < name.length; at++) {
        const key = name.slice(0, at) + char + name.slice(at + 1);
        expect(isHeaderName(key, name)).toBe(key.toLowerCase() === name);
      }
    }
    expect(isHeaderName('x-request-i', name)).toBe(false);
    expect(isHeaderName('x-request-idd', name)).toBe(false);
  });

  it('headerValue uses it: a record, an array and an iterable in any case', () => {
    expect(headerValue({ 'Content-Length': '5' }, 'content-length')).toBe('5');
    expect(headerValue(['CONTENT-LENGTH', '6'], 'content-length')).toBe('6');
    expect(headerValue(new Map([['Content-length', '7']]), 'content-length')).toBe('7');
    expect(headerValue({ 'content-type': 'x' }, 'content-length')).toBeUndefined();
  });
});

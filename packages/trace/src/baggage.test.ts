import { type BaggageEntry, baggageEntryMetadataFromString, propagation } from '@opentelemetry/api';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_BAGGAGE_BYTES, MAX_BAGGAGE_ENTRIES, parseBaggage, serializeBaggage } from './baggage.ts';

function plain(entries: Record<string, BaggageEntry> | undefined): Record<string, [string, string | undefined]> {
  const out: Record<string, [string, string | undefined]> = {};
  for (const [key, entry] of Object.entries(entries ?? {})) out[key] = [entry.value, entry.metadata?.toString()];
  return out;
}

function bag(entries: Record<string, BaggageEntry>): string {
  return serializeBaggage(propagation.createBaggage(entries));
}

describe('parseBaggage', () => {
  it('reads the specification example, percent-decoding values', () => {
    expect(plain(parseBaggage('userId=alice,serverNode=DF%2028,isProduction=false'))).toEqual({
      userId: ['alice', undefined],
      serverNode: ['DF 28', undefined],
      isProduction: ['false', undefined],
    });
  });

  it('keeps properties as metadata, without optional whitespace', () => {
    expect(plain(parseBaggage('key1=value1;property1;property2, key2 = value2, key3=value3; propertyKey=propertyValue'))).toEqual({
      key1: ['value1', 'property1;property2'],
      key2: ['value2', undefined],
      key3: ['value3', 'propertyKey=propertyValue'],
    });
    expect(plain(parseBaggage('k=v; p = 1 ;;'))).toEqual({ k: ['v', 'p=1'] });
  });

  it('decodes UTF-8 and replaces an invalid octet sequence with U+FFFD', () => {
    expect(parseBaggage('k=%E2%82%AC%20100')?.k?.value).toBe('€ 100');
    expect(parseBaggage('k=%e2%82%ac')?.k?.value).toBe('€');
    expect(parseBaggage('k=%E0%A4%A')?.k?.value).toBe('\uFFFD%A');
    expect(parseBaggage('k=%FF')?.k?.value).toBe('\uFFFD');
    expect(parseBaggage('k=100%zz')?.k?.value).toBe('100%zz');
  });

  it('accepts an empty value, which the grammar allows', () => {
    expect(plain(parseBaggage('empty=,k=v'))).toEqual({ empty: ['', undefined], k: ['v', undefined] });
  });

  it('skips malformed members and keeps the others', () => {
    const header = 'a=1,bad key=2,=x,noequals,q="x",s=a b,c=2,bs=a\\b,p=1;bad prop,d=3';
    expect(plain(parseBaggage(header))).toEqual({ a: ['1', undefined], c: ['2', undefined], d: ['3', undefined] });
    expect(parseBaggage('junk,=,;')).toBeUndefined();
    expect(parseBaggage('')).toBeUndefined();
  });

  it('lets a repeated key keep its last value', () => {
    expect(plain(parseBaggage('k=1,j=2,k=3'))).toEqual({ k: ['3', undefined], j: ['2', undefined] });
  });

  it('reads a __proto__ key as an entry, without touching any prototype', () => {
    const entries = parseBaggage('__proto__=x,constructor=y');
    expect(Object.keys(entries!)).toEqual(['__proto__', 'constructor']);
    expect(propagation.createBaggage(entries).getEntry('__proto__')?.value).toBe('x');
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });

  it('counts only valid members towards the limits and keeps a prefix by whole members', () => {
    const valid = Array.from({ length: 70 }, (_, i) => `k${i}=v`);
    const header = ['junk', ...valid.slice(0, 10), 'bad key=1', ...valid.slice(10)].join(',');
    expect(Object.keys(parseBaggage(header)!)).toEqual(valid.slice(0, MAX_BAGGAGE_ENTRIES).map((m) => m.split('=')[0]));
  });

  it('stops at the first member that does not fit, rather than skipping it for smaller ones after', () => {
    const big = `big=${'x'.repeat(MAX_BAGGAGE_BYTES - 6)}`; // 8190 bytes
    expect(Object.keys(parseBaggage(`a=1,${big},c=3`)!)).toEqual(['a']);
    expect(Object.keys(parseBaggage(`${big},c=3`)!)).toEqual(['big']);
  });
});

describe('serializeBaggage', () => {
  it('writes the specification example back byte for byte', () => {
    expect(bag({ userId: { value: 'alice' }, serverNode: { value: 'DF 28' }, isProduction: { value: 'false' } })).toBe(
      'userId=alice,serverNode=DF%2028,isProduction=false',
    );
  });

  it('percent-encodes every character outside the unreserved set, as UTF-8', () => {
    expect(bag({ k: { value: 'a,b;c=d "e" 100% é€\\' } })).toBe('k=a%2Cb%3Bc%3Dd%20%22e%22%20100%25%20%C3%A9%E2%82%AC%5C');
    expect(bag({ k: { value: "A-z_0.9!~*'()" } })).toBe("k=A-z_0.9!~*'()");
    expect(bag({ k: { value: 'line\r\nbreak' } })).toBe('k=line%0D%0Abreak');
    expect(bag({ k: { value: 'lone \uD800' } })).toBe('k=lone%20%EF%BF%BD');
  });

  it('writes metadata after the value', () => {
    expect(bag({ k: { value: 'v', metadata: baggageEntryMetadataFromString('ttl=60;secret') } })).toBe('k=v;ttl=60;secret');
  });

  it('leaves out an entry whose key is not a token, and metadata that is not a property list', () => {
    expect(bag({ 'bad key': { value: '1' }, good: { value: '2' } })).toBe('good=2');
    expect(bag({ k: { value: 'v', metadata: baggageEntryMetadataFromString('x\r\nset-cookie: a=1') } })).toBe('k=v');
    const throwing = { toString: () => { throw new Error('broken'); } } as unknown as BaggageEntry['metadata'];
    expect(bag({ k: { value: 'v', metadata: throwing } })).toBe('k=v');
  });

  it('cuts to 64 entries and 8192 bytes by whole entries', () => {
    const many = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${i}`, { value: 'v' }]));
    expect(bag(many).split(',')).toHaveLength(MAX_BAGGAGE_ENTRIES);
    const wide = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, { value: 'é'.repeat(100) }]));
    const header = bag(wide);
    expect(Buffer.byteLength(header)).toBeLessThanOrEqual(MAX_BAGGAGE_BYTES);
    expect(header.split(',').length).toBe(13); // 603 or 604 bytes each: 13 of them and 12 commas are 7854 bytes
    for (const member of header.split(',')) expect(member).toMatch(/^k\d+=(%C3%A9){100}$/);
  });
});

describe('properties (10,000 random inputs each)', () => {
  const tokenChar = fc.constantFrom(..."!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ");
  const token = fc.string({ unit: tokenChar, minLength: 1, maxLength: 8 });
  const member = fc.tuple(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 })).map(([k, v]) => `${k}=${v}`);

  it('any string parses to entries within the limits or is rejected, never throws', () => {
    const header = fc.oneof(
      fc.string({ maxLength: 80 }),
      fc.string({ unit: 'binary', maxLength: 80 }),
      fc.array(member, { maxLength: 80 }).map((list) => list.join(',')),
    );
    fc.assert(
      fc.property(header, (value) => {
        const entries = parseBaggage(value);
        if (entries === undefined) return;
        expect(Object.keys(entries).length).toBeGreaterThan(0);
        expect(Object.keys(entries).length).toBeLessThanOrEqual(MAX_BAGGAGE_ENTRIES);
      }),
      { numRuns: 10_000 },
    );
  });

  it('parse(serialize(entries)) gives the entries back, for any token keys and any Unicode values', () => {
    const value = fc.string({ unit: 'grapheme', maxLength: 12 });
    const entries = fc.dictionary(token, value, { maxKeys: 20 });
    fc.assert(
      fc.property(entries, (record) => {
        const header = bag(Object.fromEntries(Object.entries(record).map(([k, v]) => [k, { value: v }])));
        expect(header).toMatch(/^([!#$%&'*+\-.^_`|~0-9A-Za-z]+=[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*(,|$))*$/);
        const back = Object.fromEntries(Object.entries(parseBaggage(header) ?? {}).map(([k, e]) => [k, e.value]));
        expect(back).toEqual(record);
      }),
      { numRuns: 10_000 },
    );
  });
});

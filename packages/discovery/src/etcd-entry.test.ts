import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeEntry, parseEntry } from './etcd-entry.ts';

describe('encodeEntry / parseEntry', () => {
  it('writes the gRPC-go naming layout', () => {
    expect(JSON.parse(encodeEntry({ host: '10.0.0.7', port: 8080, zone: 'a', metadata: { version: '1.2' } }))).toEqual({
      Op: 0,
      Addr: '10.0.0.7:8080',
      Metadata: { version: '1.2', zone: 'a' },
    });
    expect(encodeEntry({ host: '::1', port: 80 })).toBe('{"Op":0,"Addr":"[::1]:80","Metadata":{}}');
  });

  it('reads values written by gRPC-go (with or without Op, any Metadata)', () => {
    expect(parseEntry('i-1', '{"Op":0,"Addr":"10.0.0.7:8080","Metadata":{"zone":"a","weight":3}}')).toEqual({
      id: 'i-1',
      host: '10.0.0.7',
      port: 8080,
      zone: 'a',
      metadata: { weight: 3 },
    });
    expect(parseEntry('x', '{"Addr":"[fe80::1]:443","Metadata":null}')).toEqual({
      id: 'x',
      host: 'fe80::1',
      port: 443,
      zone: undefined,
      metadata: {},
    });
    expect(parseEntry('x', '{"Addr":"svc.internal:9000","Metadata":"opaque"}')).toMatchObject({ host: 'svc.internal', port: 9000 });
  });

  it.each([
    ['not json', 'value is not JSON'],
    ['', 'value is not JSON'],
    ['[1,2]', 'value is not a JSON object'],
    ['"10.0.0.1:80"', 'value is not a JSON object'],
    ['{"Metadata":{}}', 'no Addr'],
    ['{"Addr":""}', 'no Addr'],
    ['{"Addr":42}', 'no Addr'],
    ['{"Addr":"10.0.0.1"}', 'bad Addr'],
    ['{"Addr":"10.0.0.1:70000"}', 'bad Addr'],
    ['{"Addr":"10.0.0.1:0"}', 'bad Addr'],
    ['{"Addr":"a b:80"}', 'bad Addr'],
    ['{"Op":1,"Addr":"10.0.0.1:80"}', 'Op is 1'],
    ['{"Op":"0","Addr":"10.0.0.1:80"}', 'Op is "0"'],
  ])('skips %j: %s', (value, reason) => {
    const parsed = parseEntry('id', value);
    expect(typeof parsed).toBe('string');
    expect(parsed).toContain(reason);
  });

  it('needs an instance id', () => {
    expect(parseEntry('', '{"Addr":"10.0.0.1:80"}')).toBe('empty instance id');
  });

  it('never throws, whatever the value', () => {
    const values = fc.oneof(
      fc.string(),
      fc.jsonValue().map((value) => JSON.stringify(value)),
      fc.record({ Op: fc.jsonValue(), Addr: fc.oneof(fc.string(), fc.jsonValue()), Metadata: fc.jsonValue() }, { requiredKeys: [] }).map((value) =>
        JSON.stringify(value),
      ),
    );
    fc.assert(
      fc.property(fc.string(), values, (id, value) => {
        const parsed = parseEntry(id, value);
        expect(typeof parsed === 'string' || (typeof parsed === 'object' && parsed.id === id)).toBe(true);
      }),
      { numRuns: 2_000 },
    );
  });

  it('round-trips encode → parse', () => {
    const host = fc.oneof(fc.domain(), fc.ipV4(), fc.ipV6());
    const metadata = fc.dictionary(
      fc.string().filter((key) => key !== 'zone'),
      fc.jsonValue(),
    );
    fc.assert(
      fc.property(
        fc.string({ minLength: 1 }),
        host,
        fc.integer({ min: 1, max: 65_535 }),
        fc.option(fc.string({ minLength: 1 }), { nil: undefined }),
        metadata,
        (id, hostname, port, zone, fields) => {
          const parsed = parseEntry(id, encodeEntry({ host: hostname, port, zone, metadata: fields }));
          expect(parsed).toEqual({ id, host: hostname, port, zone, metadata: JSON.parse(JSON.stringify(fields)) as unknown });
        },
      ),
      { numRuns: 1_000 },
    );
  });
});

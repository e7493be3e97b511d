import type { TraceState as OtelTraceState } from '@opentelemetry/api';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_TRACE_STATE_LENGTH, MAX_TRACE_STATE_MEMBERS, serializeTraceState, TraceState } from './trace-state.ts';

const EXAMPLE = 'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE';
const members = (count: number, prefix = 'bar'): string[] =>
  Array.from({ length: count }, (_, i) => `${prefix}${String(i + 1).padStart(2, '0')}=${String(i + 1).padStart(2, '0')}`);

describe('TraceState.parse', () => {
  it('reads and writes the specification example unchanged', () => {
    const state = TraceState.parse(EXAMPLE)!;
    expect(state.get('rojo')).toBe('00f067aa0ba902b7');
    expect(state.get('congo')).toBe('t61rcWkgMzE');
    expect(state.size).toBe(2);
    expect(state.serialize()).toBe(EXAMPLE);
  });

  it('ignores optional whitespace around members and empty members, and keeps leading spaces of a value', () => {
    expect(TraceState.parse('foo=1 \t , \t bar=2, \t baz=3')!.serialize()).toBe('foo=1,bar=2,baz=3');
    expect(TraceState.parse('\t foo=1 \t')!.serialize()).toBe('foo=1');
    expect(TraceState.parse('foo=1,, ,\t,bar=2,')!.serialize()).toBe('foo=1,bar=2');
    expect(TraceState.parse('foo=  1')!.get('foo')).toBe('  1');
    expect(TraceState.parse('')!.size).toBe(0);
    expect(TraceState.parse(' , ')!.serialize()).toBe('');
  });

  // Keys from the W3C test suite (test/test.py, Level 2 grammar: a letter or digit, then up to
  // 255 of a-z 0-9 _ - * / @).
  it.each([
    ['every allowed character', 'abcdefghijklmnopqrstuvwxyz0123456789_-*/@a-z0-9_-*/'],
    ['a trailing at sign', 'foo@'],
    ['two at signs', 'foo@@bar'],
    ['at signs twice', 'foo@bar@baz'],
    ['256 characters', 'z'.repeat(256)],
    ['a 241-character tenant and a 14-character system', `${'t'.repeat(241)}@${'v'.repeat(14)}`],
    ['a 242-character tenant', `${'t'.repeat(242)}@v`],
    ['a 15-character system', `t@${'v'.repeat(15)}`],
    ['a leading digit', '1special'],
  ])('accepts a key with %s', (_name, key) => {
    expect(TraceState.parse(`foo=1,${key}=1`)?.get(key)).toBe('1');
  });

  it.each([
    ['a leading at sign', '@foo'],
    ['upper case', 'FOO'],
    ['a dot', 'foo.bar'],
    ['a space before the equals sign', 'foo '],
    ['257 characters', 'z'.repeat(257)],
    ['nothing', ''],
  ])('drops the whole header for a key with %s', (_name, key) => {
    expect(TraceState.parse(`foo=1,${key}=1,bar=2`)).toBeUndefined();
  });

  it('accepts every allowed value character and 256 characters', () => {
    const value = Array.from({ length: 0x7e - 0x20 + 1 }, (_, i) => String.fromCharCode(0x20 + i))
      .filter((char) => char !== ',' && char !== '=')
      .join('');
    expect(TraceState.parse(`foo=${value}`)?.get('foo')).toBe(value);
    expect(TraceState.parse(`foo=${'v'.repeat(256)}`)?.get('foo')).toBe('v'.repeat(256));
  });

  it.each([
    ['an equals sign', 'foo=bar=baz'],
    ['an empty value', 'foo=,bar=3'],
    ['no equals sign', 'foo,bar=3'],
    ['a tab inside', 'foo=a\tb'],
    ['a non-ASCII character', 'foo=é'],
    ['257 characters', `foo=${'v'.repeat(257)}`],
    ['a line break', 'foo=1\r\nx-injected=1'],
  ])('drops the whole header for a value with %s', (_name, header) => {
    expect(TraceState.parse(header)).toBeUndefined();
  });

  it('accepts 32 members and drops a header of 33 whole', () => {
    expect(TraceState.parse(members(32).join(','))?.size).toBe(32);
    expect(TraceState.parse(members(33).join(','))).toBeUndefined();
    expect(TraceState.parse([...members(32), '', ' '].join(','))?.size).toBe(32);
  });

  it('keeps the first value of a repeated key and the rest of the header (as the W3C test suite expects)', () => {
    expect(TraceState.parse('foo=1,foo=2')!.serialize()).toBe('foo=1');
    expect(TraceState.parse('a=1,b=2,a=3,c=4')!.serialize()).toBe('a=1,b=2,c=4');
  });

  it('never throws on a non-string', () => {
    expect(TraceState.parse(7 as unknown as string)).toBeUndefined();
    expect(new TraceState(null as unknown as string).serialize()).toBe('');
  });

  it('the constructor reads a header, and is empty when it is invalid', () => {
    expect(new TraceState(EXAMPLE).serialize()).toBe(EXAMPLE);
    expect(new TraceState('BAD=1').size).toBe(0);
    expect(new TraceState().serialize()).toBe('');
  });
});

describe('the specification examples (W3C Trace Context Level 2, tracestate)', () => {
  it.each([
    ['single tracing system', 'rojo=00f067aa0ba902b7'],
    ['multiple tracing systems', 'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE'],
    ['generic list', 'vendorname1=opaqueValue1,vendorname2=opaqueValue2'],
  ])('%s: %s reads and writes back unchanged', (_name, header) => {
    expect(TraceState.parse(header)?.serialize()).toBe(header);
  });

  it('a vendor that comes back rewrites its entry at the front instead of adding it twice', () => {
    const state = TraceState.parse('congo=congosFirstPosition,rojo=rojosFirstPosition')!;
    expect(state.set('congo', 'congosSecondPosition').serialize()).toBe('congo=congosSecondPosition,rojo=rojosFirstPosition');
  });

  it('the two members of the list grammar: key=value, and OWS alone (empty)', () => {
    expect(TraceState.parse('rojo=00f067aa0ba902b7, \t,congo=t61rcWkgMzE')!.serialize()).toBe(EXAMPLE);
  });
});

describe('TraceState.received', () => {
  it('is the header exactly as parsed, whitespace, empty members and repeated keys included', () => {
    const header = ' rojo=1 ,, congo=2,rojo=3';
    const state = TraceState.parse(header)!;
    expect(state.received()).toBe(header);
    expect(state.serialize()).toBe('rojo=1,congo=2');
  });

  it('is the rebuilt header once the state has been changed, or when it was not parsed', () => {
    const state = TraceState.parse(' rojo=1 ,, congo=2')!;
    expect(state.set('lifeline', 'x').received()).toBe('lifeline=x,rojo=1,congo=2');
    expect(state.unset('rojo').received()).toBe('congo=2');
    expect(new TraceState('a=1 , b=2').received()).toBe('a=1,b=2');
  });
});

describe('TraceState mutations', () => {
  const state = TraceState.parse('a=1,b=2,c=3')!;

  it('set moves the key to the front and adds a new key at the front', () => {
    expect(state.set('b', 'x').serialize()).toBe('b=x,a=1,c=3');
    expect(state.set('d', '4').serialize()).toBe('d=4,a=1,b=2,c=3');
    expect(state.serialize()).toBe('a=1,b=2,c=3');
  });

  it('set drops the right-most member beyond 32', () => {
    const full = TraceState.parse(members(32).join(','))!;
    const added = full.set('new', 'v');
    expect(added.size).toBe(MAX_TRACE_STATE_MEMBERS);
    expect(added.serialize()).toBe(['new=v', ...members(31)].join(','));
    expect(full.set('bar32', 'v').serialize()).toBe(['bar32=v', ...members(31)].join(','));
  });

  it('set with an invalid key or value returns the same state', () => {
    expect(state.set('Bad', '1')).toBe(state);
    expect(state.set('ok', 'a,b')).toBe(state);
    expect(state.set('ok', '')).toBe(state);
    expect(state.set('ok', 'trailing ')).toBe(state);
  });

  it('unset removes a key, and returns the same state for an absent one', () => {
    expect(state.unset('b').serialize()).toBe('a=1,c=3');
    expect(state.unset('zz')).toBe(state);
    expect(state.unset('a').unset('b').unset('c').serialize()).toBe('');
  });
});

describe('TraceState.serialize: at most 512 characters', () => {
  const small = (i: number): string => `s${String(i).padStart(2, '0')}=${'v'.repeat(40)}`; // 44 characters
  const large = (name: string): string => `${name}=${'w'.repeat(200)}`; // over 128 characters

  it('drops members longer than 128 characters first, right to left', () => {
    const header = [large('l1'), ...[1, 2, 3, 4, 5].map(small), large('l2'), small(6)].join(',');
    expect(header.length).toBeGreaterThan(MAX_TRACE_STATE_LENGTH);
    expect(TraceState.parse(header)!.serialize()).toBe([large('l1'), ...[1, 2, 3, 4, 5, 6].map(small)].join(','));
  });

  it('then drops members from the right end until the rest fits', () => {
    const header = Array.from({ length: 13 }, (_, i) => small(i)).join(',');
    const serialized = TraceState.parse(header)!.serialize();
    expect(serialized).toBe(Array.from({ length: 11 }, (_, i) => small(i)).join(','));
    expect(serialized.length).toBe(11 * 44 + 10);
  });

  it('keeps a header of exactly 512 characters whole', () => {
    const header = `a=${'v'.repeat(254)},b=${'w'.repeat(253)}`;
    expect(header.length).toBe(MAX_TRACE_STATE_LENGTH);
    expect(TraceState.parse(header)!.serialize()).toBe(header);
    expect(TraceState.parse(`${header}x`)!.serialize()).toBe(`a=${'v'.repeat(254)}`);
  });
});

describe('serializeTraceState', () => {
  const foreign = (serialize: () => string): OtelTraceState => ({
    set: () => foreign(serialize),
    unset: () => foreign(serialize),
    get: () => undefined,
    serialize,
  });

  it('writes another implementation only when it is valid', () => {
    expect(serializeTraceState(foreign(() => 'a=1,b=2'))).toBe('a=1,b=2');
    expect(serializeTraceState(foreign(() => 'a=1\r\nx=2'))).toBe('');
    expect(serializeTraceState(foreign(() => 'a=1,BAD=2'))).toBe('');
    expect(
      serializeTraceState(
        foreign(() => {
          throw new Error('broken');
        }),
      ),
    ).toBe('');
    expect(serializeTraceState(undefined)).toBe('');
  });
});

describe('properties (10,000 random inputs each)', () => {
  const keyChar = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789_-*/@');
  const key = fc
    .tuple(fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789'), fc.string({ unit: keyChar, maxLength: 12 }))
    .map(([first, rest]) => first + rest);
  const valueChar = fc.constantFrom(
    ...Array.from({ length: 0x7e - 0x20 + 1 }, (_, i) => String.fromCharCode(0x20 + i)).filter((c) => c !== ',' && c !== '='),
  );
  const value = fc.string({ unit: valueChar, minLength: 1, maxLength: 12 }).filter((v) => !v.endsWith(' '));
  const validList = fc
    .uniqueArray(fc.tuple(key, value), { selector: ([k]) => k, maxLength: MAX_TRACE_STATE_MEMBERS })
    .map((list) => list.map(([k, v]) => `${k}=${v}`));
  const ows = fc.constantFrom('', ' ', '\t', ' \t ');

  it('any string parses to a state within the limits or is rejected, never throws', () => {
    const member = fc.tuple(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 })).map(([k, v]) => `${k}=${v}`);
    const header = fc.oneof(
      fc.string({ maxLength: 80 }),
      fc.string({ unit: 'binary', maxLength: 80 }),
      fc.array(member, { maxLength: 40 }).map((list) => list.join(',')),
      validList.map((list) => list.join(',')),
    );
    fc.assert(
      fc.property(header, (value) => {
        const state = TraceState.parse(value);
        if (state === undefined) return;
        const serialized = state.serialize();
        expect(serialized.length).toBeLessThanOrEqual(MAX_TRACE_STATE_LENGTH);
        expect(state.size).toBeLessThanOrEqual(MAX_TRACE_STATE_MEMBERS);
        expect(TraceState.parse(serialized)?.serialize()).toBe(serialized);
      }),
      { numRuns: 10_000 },
    );
  });

  it('serialize(parse(x)) is x for every valid list within 512 characters, whatever the whitespace around members', () => {
    const input = fc
      .tuple(validList, fc.array(ows, { minLength: 66, maxLength: 66 }))
      .filter(([list]) => list.join(',').length <= MAX_TRACE_STATE_LENGTH);
    fc.assert(
      fc.property(input, ([list, spaces]) => {
        const spaced = list.map((member, i) => `${spaces[2 * i]}${member}${spaces[2 * i + 1]}`).join(',');
        expect(TraceState.parse(spaced)?.serialize()).toBe(list.join(','));
      }),
      { numRuns: 10_000 },
    );
  });
});

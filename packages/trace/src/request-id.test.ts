import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_REQUEST_ID_LENGTH, newRequestId, readAttempt, readPriority, readRequestId } from './request-id.ts';

describe('readRequestId', () => {
  it('accepts 1..128 visible ASCII characters without spaces, quotes, commas or backslashes', () => {
    expect(readRequestId('abc-123')).toBe('abc-123');
    expect(readRequestId('4bf92f35-77b3-4da6-a3ce-929d0e0e4736')).toBe('4bf92f35-77b3-4da6-a3ce-929d0e0e4736');
    expect(readRequestId('a:b/c=d;e@f[g]{h}~!#$%&*+.^_`|')).toBe('a:b/c=d;e@f[g]{h}~!#$%&*+.^_`|');
    expect(readRequestId('x'.repeat(MAX_REQUEST_ID_LENGTH))).toBe('x'.repeat(MAX_REQUEST_ID_LENGTH));
    expect(readRequestId('  id-1 ')).toBe('id-1');
    expect(readRequestId(['same', 'same'])).toBe('same');
  });

  it('ignores anything else', () => {
    const bad = ['', ' ', 'a b', 'a"b', "a'b", 'a,b', 'a\\b', 'a\nb', 'é', 'a\u0000', 'x'.repeat(129), '\u007f'];
    for (const value of bad) expect(readRequestId(value), JSON.stringify(value)).toBeUndefined();
    expect(readRequestId(undefined)).toBeUndefined();
    expect(readRequestId(['a', 'b'])).toBeUndefined();
    expect(readRequestId([])).toBeUndefined();
    expect(readRequestId(42 as unknown as string)).toBeUndefined();
  });

  it('property: 10,000 random strings never throw; accepted ids are within the charset', () => {
    const allowed = /^[\x21\x23-\x26\x28-\x2B\x2D-\x5B\x5D-\x7E]{1,128}$/;
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 140 }), fc.string({ unit: 'binary', maxLength: 140 })), (value) => {
        const id = readRequestId(value);
        if (id !== undefined) {
          expect(allowed.test(id)).toBe(true);
          expect(value.includes(id)).toBe(true);
        }
      }),
      { numRuns: 10_000 },
    );
  });
});

describe('newRequestId', () => {
  it('is a per-process random prefix and a counter, accepted by readRequestId', () => {
    const a = newRequestId();
    const b = newRequestId();
    expect(a).not.toBe(b);
    expect(readRequestId(a)).toBe(a);
    expect(a).toMatch(/^[A-Za-z0-9_-]{22}-[0-9a-z]{1,11}$/);
    // One prefix per process, a counter after it.
    expect(b.slice(0, 23)).toBe(a.slice(0, 23));
    expect(parseInt(b.slice(23), 36)).toBe(parseInt(a.slice(23), 36) + 1);
  });

  it('never repeats within a process', () => {
    const ids = new Set(Array.from({ length: 10_000 }, () => newRequestId()));
    expect(ids.size).toBe(10_000);
  });

  it('draws its prefix once per process: another process has another prefix', () => {
    const source = new URL('./request-id.ts', import.meta.url).href;
    const script = `import(${JSON.stringify(source)}).then((m) => process.stdout.write(m.newRequestId()))`;
    const other = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(other).toMatch(/^[A-Za-z0-9_-]{22}-1$/);
    expect(other.slice(0, 23)).not.toBe(newRequestId().slice(0, 23));
  });
});

describe('readAttempt', () => {
  it('accepts a positive integer up to 100', () => {
    expect(readAttempt('1')).toBe(1);
    expect(readAttempt('100')).toBe(100);
    expect(readAttempt(['3', '3'])).toBe(3);
    for (const bad of ['0', '101', '-1', '01', '1.0', '+2', '', 'two', '1e2', '999']) {
      expect(readAttempt(bad), bad).toBeUndefined();
    }
    expect(readAttempt(['2', '3'])).toBeUndefined();
    expect(readAttempt(undefined)).toBeUndefined();
  });
});

describe('readPriority', () => {
  it.each([
    ['critical', 'critical'],
    ['Normal', 'normal'],
    [' sheddable ', 'sheddable'],
    [['critical'], 'critical'],
  ])('reads %j as %s', (value, expected) => {
    expect(readPriority(value)).toBe(expected);
  });

  it.each([[undefined], [''], ['urgent'], ['critical, normal'], [['critical', 'normal']], ['1']])('ignores %j', (value) => {
    expect(readPriority(value)).toBeUndefined();
  });
});

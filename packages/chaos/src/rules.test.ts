import { describe, expect, it } from 'vitest';
import { ChaosConfigError, isChaosConfigError } from './errors.ts';
import { describeRule, parseRules } from './rules.ts';

const ok = { path: '/charges', percent: 10, fault: { type: 'reset' } };

function message(input: unknown): string {
  try {
    parseRules(input);
  } catch (error) {
    expect(error).toBeInstanceOf(ChaosConfigError);
    expect(isChaosConfigError(error)).toBe(true);
    expect((error as ChaosConfigError).code).toBe('CHAOS_INVALID');
    return (error as Error).message;
  }
  throw new Error('parseRules accepted it');
}

describe('parseRules', () => {
  it('returns copies with ids assigned around explicit ones, methods upper-cased, * by default', () => {
    const input = [ok, { ...ok, id: 'r1', method: 'post' }, { ...ok, id: 'mine' }, ok];
    const rules = parseRules(input);
    expect(rules.map((r) => r.id)).toEqual(['r2', 'r1', 'mine', 'r3']);
    expect(rules.map((r) => r.method)).toEqual(['*', 'POST', '*', '*']);
    expect(rules[0]).toEqual({ id: 'r2', method: '*', path: '/charges', percent: 10, fault: { type: 'reset' } });
    expect(input[0]).not.toHaveProperty('id');
  });

  it('keeps only the known fields of each fault form', () => {
    const rules = parseRules([
      { path: '*', percent: 1, fault: { type: 'latency', ms: 0 } },
      { path: '*', percent: 1, fault: { type: 'latency', min: 5, max: 5 } },
      { path: '*', percent: 1, fault: { type: 'latency', median: 10, p99: 100 } },
      { path: '*', percent: 1, fault: { type: 'error', status: 503, retryAfterMs: 1500 } },
      { path: '*', percent: 1.5, fault: { type: 'error', status: 400 } },
      { path: '/a/:b/*', percent: 100, fault: { type: 'hang' } },
      { path: '/x/*', percent: 0, fault: { type: 'lose-response' } },
    ]);
    expect(rules.map((r) => r.fault)).toEqual([
      { type: 'latency', ms: 0 },
      { type: 'latency', min: 5, max: 5 },
      { type: 'latency', median: 10, p99: 100 },
      { type: 'error', status: 503, retryAfterMs: 1500 },
      { type: 'error', status: 400 },
      { type: 'hang' },
      { type: 'lose-response' },
    ]);
  });

  it.each([
    ['not an array', { rules: [] }, 'rules: must be an array, got an object'],
    ['a rule that is not an object', [3], 'rules[0]: must be an object, got 3'],
    ['percent above 100', [{ ...ok, percent: 150 }], 'rules[0].percent: must be a number from 0 to 100, got 150'],
    ['percent below 0', [{ ...ok, percent: -1 }], 'rules[0].percent: must be a number from 0 to 100, got -1'],
    ['percent as a string', [{ ...ok, percent: '10' }], "rules[0].percent: must be a number from 0 to 100, got '10'"],
    ['percent NaN', [{ ...ok, percent: Number.NaN }], 'rules[0].percent: must be a number from 0 to 100, got NaN'],
    ['percent missing', [{ path: '/', fault: { type: 'reset' } }], 'rules[0].percent: is required'],
    ['path missing', [{ percent: 1, fault: { type: 'reset' } }], 'rules[0].path: is required'],
    ['a relative path', [ok, { ...ok, path: 'charges' }], "rules[1].path: must be '*' or a path starting with '/' (no query), got 'charges'"],
    ['a path with a query', [{ ...ok, path: '/a?b=1' }], "rules[0].path: must be '*' or a path starting with '/' (no query), got '/a?b=1'"],
    ['a * inside a path', [{ ...ok, path: '/a/*/b' }], "rules[0].path: '*' may only be the whole last segment ('/admin/*'), got '/a/*/b'"],
    ['a partial * segment', [{ ...ok, path: '/a*' }], "rules[0].path: '*' may only be the whole last segment ('/admin/*'), got '/a*'"],
    ['an unnamed param', [{ ...ok, path: '/users/:' }], "rules[0].path: a ':' segment needs a name ('/users/:id'), got '/users/:'"],
    ['a path that is not a string', [{ ...ok, path: 5 }], "rules[0].path: must be a string such as '/charges', '/users/:id', '/admin/*' or '*', got 5"],
    ['a bad method', [{ ...ok, method: 'GET POST' }], "rules[0].method: must be an HTTP method such as 'POST', or '*', got 'GET POST'"],
    ['a bad id', [{ ...ok, id: 'a b' }], "rules[0].id: must be 1 to 64 letters, digits, '.', '_' or '-', got 'a b'"],
    ['a duplicate id', [{ ...ok, id: 'x' }, { ...ok, id: 'x' }], "rules[1].id: 'x' is used by an earlier rule"],
    ['fault missing', [{ path: '/', percent: 1 }], 'rules[0].fault: is required'],
    ['fault not an object', [{ ...ok, fault: 'reset' }], "rules[0].fault: must be an object, got 'reset'"],
    [
      'an unknown fault type',
      [ok, { ...ok, fault: { type: 'boom' } }],
      "rules[1].fault.type: must be one of latency, error, reset, hang, lose-response, got 'boom'",
    ],
    ['an error status under 400', [{ ...ok, fault: { type: 'error', status: 200 } }], 'rules[0].fault.status: must be an integer from 400 to 599, got 200'],
    ['a fractional status', [{ ...ok, fault: { type: 'error', status: 500.5 } }], 'rules[0].fault.status: must be an integer from 400 to 599, got 500.5'],
    ['a missing status', [{ ...ok, fault: { type: 'error' } }], 'rules[0].fault.status: must be an integer from 400 to 599, got undefined'],
    [
      'a negative retryAfterMs',
      [{ ...ok, fault: { type: 'error', status: 503, retryAfterMs: -5 } }],
      'rules[0].fault.retryAfterMs: must be a number from 0 to 2147483647, got -5',
    ],
    [
      'latency with no form',
      [{ ...ok, fault: { type: 'latency' } }],
      'rules[0].fault: a latency fault needs exactly one of `ms`, `min` with `max`, or `median` with `p99`',
    ],
    [
      'latency with two forms',
      [{ ...ok, fault: { type: 'latency', ms: 5, median: 5, p99: 9 } }],
      'rules[0].fault: a latency fault needs exactly one of `ms`, `min` with `max`, or `median` with `p99`',
    ],
    ['latency ms negative', [{ ...ok, fault: { type: 'latency', ms: -1 } }], 'rules[0].fault.ms: must be a number from 0 to 2147483647, got -1'],
    ['latency ms infinite', [{ ...ok, fault: { type: 'latency', ms: Infinity } }], 'rules[0].fault.ms: must be a number from 0 to 2147483647, got Infinity'],
    ['latency max under min', [{ ...ok, fault: { type: 'latency', min: 100, max: 50 } }], 'rules[0].fault.max: must be >= min (100), got 50'],
    ['latency min without max', [{ ...ok, fault: { type: 'latency', min: 100 } }], 'rules[0].fault.max: must be a number from 0 to 2147483647, got undefined'],
    ['latency p99 under median', [{ ...ok, fault: { type: 'latency', median: 100, p99: 50 } }], 'rules[0].fault.p99: must be >= median (100), got 50'],
    ['latency median 0', [{ ...ok, fault: { type: 'latency', median: 0, p99: 50 } }], 'rules[0].fault.median: must be greater than 0, got 0'],
  ])('refuses %s, naming the field', (_name, input, expected) => {
    expect(message(input)).toBe(expected);
  });

  it.each([
    [[{ ...ok, precent: 5 }], 'unknown option `rules[0].precent` (did you mean `percent`?); allowed: id, method, path, percent, fault'],
    [[{ ...ok, fualt: 5 }], 'unknown option `rules[0].fualt` (did you mean `fault`?); allowed: id, method, path, percent, fault'],
    [[{ ...ok, fault: { type: 'error', status: 503, retryAfter: 5 } }], 'unknown option `rules[0].fault.retryAfter` (did you mean `retryAfterMs`?)'],
    [[{ ...ok, fault: { type: 'latency', ms: 5, msec: 3 } }], 'unknown option `rules[0].fault.msec` (did you mean `ms`?)'],
    [[{ ...ok, fault: { type: 'reset', status: 500 } }], 'unknown option `rules[0].fault.status`; allowed: type'],
  ])('refuses unknown keys with the closest allowed name: %j', (input, expected) => {
    expect(message(input)).toContain(expected);
  });
});

describe('describeRule', () => {
  it('labels each fault form', () => {
    const rules = parseRules([
      { method: 'POST', path: '/charges', percent: 100, fault: { type: 'latency', ms: 3000 } },
      { path: '/users/:id', percent: 25, fault: { type: 'error', status: 503 } },
      { path: '*', percent: 2.5, fault: { type: 'latency', min: 10, max: 20 } },
      { path: '*', percent: 1, fault: { type: 'latency', median: 10, p99: 200 } },
      { method: 'POST', path: '/charges', percent: 50, fault: { type: 'lose-response' } },
    ]);
    expect(rules.map(describeRule)).toEqual([
      'latency 3000 ms on POST /charges (100 %)',
      'error 503 on * /users/:id (25 %)',
      'latency 10..20 ms on * * (2.5 %)',
      'latency median 10 ms, p99 200 ms on * * (1 %)',
      'lose-response on POST /charges (50 %)',
    ]);
  });
});

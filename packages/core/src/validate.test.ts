import { describe, expect, it } from 'vitest';
import { checkBoolean, checkDuration, checkInteger, checkObject, checkOneOf, checkOptionNames, checkRatio, optionNames } from './validate.ts';

describe('option validation', () => {
  it('names the option, the value and what is allowed', () => {
    expect(() => checkRatio('retry.budget.ratio', 1.5)).toThrow(
      new RangeError('lifeline: option `retry.budget.ratio` must be between 0 and 1, got 1.5'),
    );
    expect(() => checkDuration('timeout', -1)).toThrow(RangeError);
    expect(() => checkDuration('timeout', Number.NaN)).toThrow(/`timeout` must be a number, got NaN/);
    expect(() => checkDuration('timeout', '10')).toThrow(TypeError);
    expect(() => checkDuration('timeout', Infinity)).toThrow(/finite/);
    expect(checkDuration('timeout', Infinity, true)).toBe(Infinity);
    expect(() => checkInteger('retry.maxAttempts', 2.5)).toThrow(/must be an integer, got 2.5/);
    expect(() => checkInteger('retry.maxAttempts', 0)).toThrow(/must be >= 1, got 0/);
    expect(() => checkObject('retry', 3)).toThrow(/`retry` must be an object, got 3/);
    expect(() => checkOneOf('jitter', 'half', ['full', 'none'])).toThrow(/one of "full", "none", got "half"/);
    expect(checkRatio('r', 0)).toBe(0);
    expect(() => checkBoolean('timeout.retryable', 'no')).toThrow(
      new TypeError('lifeline: option `timeout.retryable` must be true or false, got "no"'),
    );
    expect(checkBoolean('timeout.retryable', false)).toBe(false);
  });
});

describe('unknown options', () => {
  interface Example {
    breakDuration?: number;
    halfOpenProbes?: number;
    name?: string;
  }
  const names = optionNames<Example>({ breakDuration: true, halfOpenProbes: true, name: true });

  it('accepts the listed names and no options at all', () => {
    expect(() => checkOptionNames('breaker', { breakDuration: 1, name: 'x' }, names)).not.toThrow();
    expect(() => checkOptionNames('breaker', undefined, names)).not.toThrow();
  });

  it('refuses a misspelt name, suggesting the closest one and listing the allowed ones', () => {
    expect(() => checkOptionNames('breaker', { breakDurationMs: 1 }, names)).toThrow(
      'lifeline: unknown option `breaker.breakDurationMs` (did you mean `breakDuration`?); allowed: breakDuration, halfOpenProbes, name',
    );
    expect(() => checkOptionNames('breaker', { halfopenProbe: 1 }, names)).toThrow('(did you mean `halfOpenProbes`?)');
    expect(() => checkOptionNames('', { colour: 'red' }, names)).toThrow(/^lifeline: unknown option `colour`; allowed:/);
  });
});

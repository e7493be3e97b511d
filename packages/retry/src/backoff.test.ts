import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecorrelatedJitterBackoff, ExponentialBackoff } from './backoff.ts';

const unit = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });

describe('ExponentialBackoff', () => {
  it('without jitter doubles from base and stops at the cap', () => {
    const backoff = new ExponentialBackoff({ base: 100, cap: 1_000, jitter: 'none' });
    expect([1, 2, 3, 4, 5, 6].map((r) => backoff.next(r, 0))).toEqual([100, 200, 400, 800, 1_000, 1_000]);
  });

  it('full jitter draws uniformly below the exponential ceiling', () => {
    const low = new ExponentialBackoff({ base: 100, cap: 5_000, random: () => 0 });
    const high = new ExponentialBackoff({ base: 100, cap: 5_000, random: () => 0.999 });
    expect(low.next(3, 0)).toBe(0);
    expect(high.next(3, 0)).toBeCloseTo(399.6);
  });

  it('property: every delay is within [0, min(cap, base·factorⁿ⁻¹)]', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 10_000 }),
        fc.integer({ min: 0, max: 60_000 }),
        fc.double({ min: 1, max: 10, noNaN: true }),
        fc.integer({ min: 1, max: 200 }),
        unit,
        (base, cap, factor, retry, r) => {
          const delay = new ExponentialBackoff({ base, cap, factor, random: () => r }).next(retry, 0);
          expect(delay).toBeGreaterThanOrEqual(0);
          expect(delay).toBeLessThanOrEqual(Math.min(cap, base * factor ** (retry - 1)));
          expect(Number.isFinite(delay)).toBe(true);
        },
      ),
    );
  });

  it('rejects bad options naming them', () => {
    expect(() => new ExponentialBackoff({ base: -1 })).toThrow(/`backoff.base` must be >= 0, got -1/);
    expect(() => new ExponentialBackoff({ factor: 0.5 })).toThrow(/`backoff.factor`/);
    expect(() => new ExponentialBackoff({ jitter: 'half' as 'full' })).toThrow(/`backoff.jitter` must be one of/);
  });
});

describe('DecorrelatedJitterBackoff', () => {
  it('draws in [base, previous × 3), capped', () => {
    const min = new DecorrelatedJitterBackoff({ base: 100, cap: 1_000, random: () => 0 });
    const max = new DecorrelatedJitterBackoff({ base: 100, cap: 1_000, random: () => 0.999_999 });
    expect(min.next(1, 0)).toBe(100);
    expect(max.next(1, 0)).toBeCloseTo(300, 2);
    expect(max.next(2, 300)).toBeCloseTo(900, 2);
    expect(max.next(3, 900)).toBe(1_000);
  });

  it('property: any sequence of delays stays within [base, cap]', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1_000 }),
        fc.integer({ min: 0, max: 30_000 }),
        fc.array(unit, { minLength: 1, maxLength: 30 }),
        (base, extra, draws) => {
          const cap = base + extra;
          let i = 0;
          const backoff = new DecorrelatedJitterBackoff({ base, cap, random: () => draws[i++ % draws.length]! });
          let delay = 0;
          for (let retry = 1; retry <= draws.length; retry++) {
            delay = backoff.next(retry, delay);
            expect(delay).toBeGreaterThanOrEqual(base);
            expect(delay).toBeLessThanOrEqual(cap);
          }
        },
      ),
    );
  });

  it('rejects a cap below the base', () => {
    expect(() => new DecorrelatedJitterBackoff({ base: 500, cap: 100 })).toThrow(/`backoff.cap` must be >= backoff.base/);
  });
});

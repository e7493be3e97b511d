import fc from 'fast-check';
import { ManualClock } from '@lifeline/core';
import { describe, expect, it } from 'vitest';
import { RetryBudget } from './retry-budget.ts';

describe('RetryBudget', () => {
  it('allows ratio × requests + floor × window seconds, then refuses at once', () => {
    const clock = new ManualClock();
    const budget = new RetryBudget({ ratio: 0.2, windowMs: 10_000, minRetriesPerSecond: 1, clock });
    for (let i = 0; i < 100; i++) budget.recordRequest();
    // 0.2 × 100 + 1/s × 10 s = 30
    let granted = 0;
    while (budget.tryAcquire()) granted++;
    expect(granted).toBe(30);
    expect(budget.snapshot()).toMatchObject({ requests: 100, retries: 30, allowed: 30, available: 0, exhausted: true });
  });

  it('with no traffic still allows the floor (a quiet client can retry)', () => {
    const clock = new ManualClock();
    const budget = new RetryBudget({ minRetriesPerSecond: 10, windowMs: 1_000, clock });
    let granted = 0;
    while (budget.tryAcquire()) granted++;
    expect(granted).toBe(10);
  });

  it('forgets requests and retries that slid out of the window', () => {
    const clock = new ManualClock();
    const budget = new RetryBudget({ ratio: 0.5, windowMs: 1_000, minRetriesPerSecond: 0, buckets: 10, clock });
    for (let i = 0; i < 10; i++) budget.recordRequest();
    for (let i = 0; i < 5; i++) expect(budget.tryAcquire()).toBe(true);
    expect(budget.tryAcquire()).toBe(false);
    clock.advance(500);
    expect(budget.tryAcquire()).toBe(false); // same window: still spent
    clock.advance(600);
    expect(budget.snapshot()).toMatchObject({ requests: 0, retries: 0 });
    expect(budget.tryAcquire()).toBe(false); // no requests, no floor
    budget.recordRequest();
    budget.recordRequest();
    expect(budget.tryAcquire()).toBe(true);
  });

  it('a long idle gap clears the whole window', () => {
    const clock = new ManualClock();
    const budget = new RetryBudget({ ratio: 1, windowMs: 1_000, minRetriesPerSecond: 0, clock });
    budget.recordRequest();
    clock.advance(1e9);
    expect(budget.snapshot().requests).toBe(0);
  });

  it('emits exhausted once per exhaustion and recovered when a retry is allowed again', () => {
    const clock = new ManualClock();
    const budget = new RetryBudget({ ratio: 0, windowMs: 1_000, minRetriesPerSecond: 1, clock });
    const events: string[] = [];
    budget.onExhausted(() => events.push('exhausted'));
    budget.onRecovered(() => events.push('recovered'));
    expect(budget.tryAcquire()).toBe(true);
    expect(budget.tryAcquire()).toBe(false);
    expect(budget.tryAcquire()).toBe(false);
    clock.advance(1_100);
    expect(budget.tryAcquire()).toBe(true);
    expect(events).toEqual(['exhausted', 'recovered']);
  });

  it('property: retries in the window never exceed ratio × requests + floor', () => {
    type Op = { kind: 'request' } | { kind: 'retry' } | { kind: 'wait'; ms: number };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.constant<Op>({ kind: 'request' }),
      fc.constant<Op>({ kind: 'retry' }),
      fc.integer({ min: 1, max: 3_000 }).map<Op>((ms) => ({ kind: 'wait', ms })),
    );
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer({ min: 0, max: 5 }),
        fc.array(op, { maxLength: 400 }),
        (ratio, perSecond, ops) => {
          const clock = new ManualClock();
          const windowMs = 2_000;
          const buckets = 10;
          const bucketMs = windowMs / buckets;
          const budget = new RetryBudget({ ratio, windowMs, minRetriesPerSecond: perSecond, buckets, clock });
          const log: { at: number; kind: 'request' | 'retry' }[] = [];
          for (const o of ops) {
            if (o.kind === 'wait') clock.advance(o.ms);
            else if (o.kind === 'request') {
              budget.recordRequest();
              log.push({ at: clock.now(), kind: 'request' });
            } else if (budget.tryAcquire()) {
              log.push({ at: clock.now(), kind: 'retry' });
              // Independent count over the window the budget claims to use (whole buckets).
              const from = (Math.floor(clock.now() / bucketMs) - buckets + 1) * bucketMs;
              const inWindow = log.filter((e) => e.at >= from);
              const requests = inWindow.filter((e) => e.kind === 'request').length;
              const retries = inWindow.length - requests;
              expect(retries).toBeLessThanOrEqual(ratio * requests + (perSecond * windowMs) / 1_000 + 1e-9);
            }
          }
        },
      ),
    );
  });

  it('rejects bad options naming them', () => {
    expect(() => new RetryBudget({ ratio: 1.5 })).toThrow(new RangeError('lifeline: option `retry.budget.ratio` must be between 0 and 1, got 1.5'));
    expect(() => new RetryBudget({ ratio: Number.NaN })).toThrow(TypeError);
    expect(() => new RetryBudget({ windowMs: 0 })).toThrow(/windowMs/);
    expect(() => new RetryBudget({ minRetriesPerSecond: -1 })).toThrow(/minRetriesPerSecond/);
  });
});

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

  describe('the token bucket', () => {
    it('when every attempt fails, allows fewer than maxTokens / 2 retries, and time alone never gives more', () => {
      const clock = new ManualClock();
      const budget = new RetryBudget({ clock }); // defaults: 20 % + 10/s over 10 s, 10 tokens, 0.1
      let granted = 0;
      // 10 requests a second for 10 minutes, every attempt failing: the window alone would allow 10/s + 20 %.
      for (let second = 0; second < 600; second++) {
        for (let i = 0; i < 10; i++) {
          budget.recordRequest();
          budget.recordFailure();
          if (budget.tryAcquire()) {
            granted++;
            budget.recordFailure(); // the retry fails too
          }
        }
        clock.advance(1_000);
      }
      expect(granted).toBeLessThan(5);
      expect(granted).toBeGreaterThan(0); // the first failures were retried
      expect(budget.snapshot()).toMatchObject({ tokens: 0, available: 0, exhausted: true });
    });

    it('each failure takes a token, each success gives back tokenRatio, retries only above half', () => {
      const budget = new RetryBudget({ maxTokens: 4, tokenRatio: 0.5, clock: new ManualClock() });
      expect(budget.snapshot().tokens).toBe(4);
      budget.recordFailure(); // 3
      expect(budget.tryAcquire()).toBe(true);
      budget.recordFailure(); // 2: not above half
      expect(budget.tryAcquire()).toBe(false);
      budget.recordSuccess(); // 2.5
      expect(budget.snapshot()).toMatchObject({ tokens: 2.5, exhausted: true });
      expect(budget.tryAcquire()).toBe(true);
      for (let i = 0; i < 10; i++) budget.recordSuccess();
      expect(budget.snapshot().tokens).toBe(4); // never above maxTokens
      for (let i = 0; i < 10; i++) budget.recordFailure();
      expect(budget.snapshot().tokens).toBe(0); // never below 0
    });

    it('a lone client at one request a minute still retries its occasional failure', () => {
      const clock = new ManualClock();
      const budget = new RetryBudget({ clock });
      let failed = 0;
      let retried = 0;
      for (let minute = 0; minute < 600; minute++) {
        budget.recordRequest();
        if (minute % 20 === 3) {
          failed++;
          budget.recordFailure();
          if (budget.tryAcquire()) {
            retried++;
            budget.recordSuccess();
          }
        } else budget.recordSuccess();
        clock.advance(60_000);
      }
      expect(failed).toBe(30);
      expect(retried).toBe(failed);
    });

    it('after an outage, retries come back once successes refill the bucket past half', () => {
      const budget = new RetryBudget({ clock: new ManualClock() });
      for (let i = 0; i < 20; i++) budget.recordFailure();
      budget.recordRequest();
      expect(budget.tryAcquire()).toBe(false);
      let successes = 0;
      while (!budget.tryAcquire()) {
        budget.recordSuccess();
        successes++;
      }
      expect(successes).toBeGreaterThanOrEqual(50);
      expect(successes).toBeLessThanOrEqual(51);
    });

    it('a caller that reports no outcomes is limited by the window alone', () => {
      const clock = new ManualClock();
      const budget = new RetryBudget({ ratio: 0.2, windowMs: 10_000, minRetriesPerSecond: 1, clock });
      for (let i = 0; i < 100; i++) budget.recordRequest();
      let granted = 0;
      while (budget.tryAcquire()) granted++;
      expect(granted).toBe(30);
    });

    it('maxTokens: Infinity turns the bucket off: failures do not close it', () => {
      const budget = new RetryBudget({ ratio: 0, windowMs: 1_000, minRetriesPerSecond: 5, maxTokens: Infinity, clock: new ManualClock() });
      for (let i = 0; i < 1_000; i++) budget.recordFailure();
      let granted = 0;
      while (budget.tryAcquire()) granted++;
      expect(granted).toBe(5);
      expect(budget.snapshot().tokens).toBeNull();
    });

    it('emits exhausted when the bucket closes and recovered when successes reopen it', () => {
      const budget = new RetryBudget({ maxTokens: 2, tokenRatio: 1, clock: new ManualClock() });
      const events: string[] = [];
      budget.onExhausted((s) => events.push(`exhausted ${s.tokens}`));
      budget.onRecovered((s) => events.push(`recovered ${s.tokens}`));
      budget.recordFailure();
      expect(budget.tryAcquire()).toBe(false);
      expect(budget.tryAcquire()).toBe(false);
      budget.recordSuccess();
      expect(budget.tryAcquire()).toBe(true);
      expect(events).toEqual(['exhausted 1', 'recovered 2']);
    });

    it('property: over any stretch, retries < maxTokens / 2 + tokenRatio × successes, when each retry follows its failure', () => {
      // 'retry': a failed attempt reported, then a retry asked for (as decide() does); 'failure': one not retried.
      type Op = 'request' | 'success' | 'failure' | 'retry' | 'wait';
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 20 }),
          fc.double({ min: 0, max: 1, noNaN: true }),
          fc.array(fc.constantFrom<Op>('request', 'success', 'failure', 'failure', 'retry', 'retry', 'wait'), { maxLength: 300 }),
          (maxTokens, tokenRatio, ops) => {
            const clock = new ManualClock();
            const budget = new RetryBudget({ maxTokens, tokenRatio, ratio: 1, minRetriesPerSecond: 1_000, clock });
            // successes[i] and grants[i]: counts before op i, to check every stretch that ends at a grant.
            const successes: number[] = [];
            const grants: number[] = [];
            let s = 0;
            let g = 0;
            for (const op of ops) {
              successes.push(s);
              grants.push(g);
              if (op === 'request') budget.recordRequest();
              else if (op === 'success') {
                budget.recordSuccess();
                s++;
              } else if (op === 'failure') budget.recordFailure();
              else if (op === 'wait') clock.advance(5_000);
              else {
                budget.recordFailure();
                if (!budget.tryAcquire()) continue;
                g++;
                for (let from = 0; from < successes.length; from++) {
                  expect(g - grants[from]!).toBeLessThan(maxTokens / 2 + tokenRatio * (s - successes[from]!) + 1e-9);
                }
              }
            }
          },
        ),
      );
    });
  });

  it('rejects bad options naming them', () => {
    expect(() => new RetryBudget({ ratio: 1.5 })).toThrow(new RangeError('lifeline: option `retry.budget.ratio` must be between 0 and 1, got 1.5'));
    expect(() => new RetryBudget({ ratio: Number.NaN })).toThrow(TypeError);
    expect(() => new RetryBudget({ windowMs: 0 })).toThrow(/windowMs/);
    expect(() => new RetryBudget({ minRetriesPerSecond: -1 })).toThrow(/minRetriesPerSecond/);
    expect(() => new RetryBudget({ maxTokens: 0 })).toThrow(new RangeError('lifeline: option `retry.budget.maxTokens` must be >= 1, got 0'));
    expect(() => new RetryBudget({ maxTokens: Number.NaN })).toThrow(/`retry.budget.maxTokens` must be a number/);
    expect(() => new RetryBudget({ tokenRatio: 2 })).toThrow(/`retry.budget.tokenRatio` must be between 0 and 1, got 2/);
    expect(() => new RetryBudget({ tokenRatio: 'a' as never })).toThrow(/`retry.budget.tokenRatio` must be a number/);
    expect(() => new RetryBudget({ tokens: 10 } as never)).toThrow(/tokens/);
  });
});

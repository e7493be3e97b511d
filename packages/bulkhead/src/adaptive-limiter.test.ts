import { CoarseTimer, Deadline, LifelineError, ManualClock } from '@lifeline/core';
import { describe, expect, it } from 'vitest';
import { AdaptiveLimiter, type AdaptiveLimiterOptions } from './adaptive-limiter.ts';
import { Bulkhead, type BulkheadRejectedError } from './bulkhead.ts';
import { isLimiter } from './limiter.ts';

function setup(options: AdaptiveLimiterOptions = {}) {
  const clock = new ManualClock(0);
  const timer = new CoarseTimer({ clock, resolution: 10 });
  const limiter = new AdaptiveLimiter({ minWindowMs: 0, ...options, clock, timer });
  /**
   * One round trip: takes up to `wanted` slots at once, holds them `latency(taken)` ms, gives
   * them back. Returns how many it took.
   */
  const round = (wanted: number, latency: (taken: number) => number, outcome: 'success' | 'dropped' = 'success'): number => {
    let taken = 0;
    while (taken < wanted && limiter.tryAcquire()) taken++;
    clock.advance(latency(taken));
    for (let i = 0; i < taken; i++) limiter.release(i === 0 ? outcome : 'success');
    return taken;
  };
  return { clock, timer, limiter, round };
}

const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('AdaptiveLimiter', () => {
  it('is a Limiter, starting at initialLimit', () => {
    const { limiter } = setup();
    expect(isLimiter(limiter)).toBe(true);
    expect(limiter.limit).toBe(20);
    expect(limiter.snapshot()).toMatchObject({ maxConcurrent: 20, minLimit: 20, maxLimit: 200, inFlight: 0, queued: 0, maxQueue: 200 });
  });

  it('grows while latency stays at its baseline and every slot is used', () => {
    const { limiter, round } = setup({ initialLimit: 10, minLimit: 5, maxLimit: 500 });
    const limits = [limiter.limit];
    for (let i = 0; i < 60; i++) {
      round(limiter.limit, () => 10);
      limits.push(limiter.limit);
    }
    for (let i = 1; i < limits.length; i++) expect(limits[i]).toBeGreaterThanOrEqual(limits[i - 1]!);
    expect(limiter.limit).toBeGreaterThan(40);
    expect(limiter.snapshot()).toMatchObject({ rttMs: 10, longRttMs: 10 });
  });

  it('does not grow while fewer than half of its slots are used', () => {
    const { limiter, round } = setup({ initialLimit: 20, minLimit: 5 });
    for (let i = 0; i < 50; i++) round(5, () => 10);
    expect(limiter.limit).toBe(20);
  });

  it('shrinks when latency rises at the same concurrency', () => {
    const { limiter, round } = setup({ initialLimit: 40, minLimit: 4, maxLimit: 40 });
    for (let i = 0; i < 30; i++) round(40, () => 10);
    expect(limiter.limit).toBe(40);
    const limits: number[] = [];
    for (let i = 0; i < 15; i++) {
      round(40, () => 40);
      limits.push(limiter.limit);
    }
    for (let i = 1; i < limits.length; i++) expect(limits[i]).toBeLessThanOrEqual(limits[i - 1]!);
    expect(limiter.limit).toBeLessThan(20);
    expect(limiter.snapshot().rttMs).toBe(40);
  });

  it('settles above the concurrency a dependency serves without queueing, within the tolerance, far below its maximum', () => {
    // A dependency with 30 workers: 10 ms up to 30 calls at once, then each call queues behind the others.
    const workers = 30;
    const { limiter, round } = setup({ initialLimit: 10, minLimit: 5, maxLimit: 1_000 });
    for (let i = 0; i < 60; i++) round(limiter.limit, (n) => 10 * Math.max(1, n / workers));
    const settled = limiter.limit;
    expect(settled).toBeGreaterThan(workers);
    expect(settled).toBeLessThan(2.5 * workers);
    // Latency at the settled limit is above the baseline, and not by more than the tolerance allows (1.5 / (1 − 1/√limit)).
    const { rttMs, longRttMs } = limiter.snapshot();
    expect(rttMs).toBeGreaterThan(longRttMs);
    expect(rttMs / longRttMs).toBeLessThan(1.5 / (1 - 1 / Math.sqrt(settled)) + 0.1);
  });

  it('waits minWindowMs before a window ends', () => {
    const { limiter, round } = setup({ initialLimit: 10, minLimit: 5, maxLimit: 500, minWindowMs: 100 });
    for (let i = 0; i < 9; i++) round(10, () => 10);
    expect(limiter.snapshot().rttMs).toBe(0); // 90 leases in 90 ms: still the first window
    round(10, () => 10);
    // It ends at the first release after 100 ms, which carries the time of the nine leases still held.
    expect(limiter.snapshot().rttMs).toBeCloseTo(1_000 / 91, 6);
  });

  it('stays within minLimit and maxLimit', () => {
    const { limiter, round } = setup({ initialLimit: 20, minLimit: 8, maxLimit: 30 });
    for (let i = 0; i < 100; i++) round(limiter.limit, () => 10);
    expect(limiter.limit).toBe(30);
    for (let i = 0; i < 100; i++) round(limiter.limit, () => 500);
    expect(limiter.limit).toBe(8);
  });

  it('shrinks by backoffRatio after a window with a dropped lease', () => {
    const { limiter, round } = setup({ initialLimit: 50, minLimit: 10, maxLimit: 50 });
    for (let i = 0; i < 20; i++) round(50, () => 10);
    expect(limiter.limit).toBe(50);
    round(50, () => 10, 'dropped');
    expect(limiter.limit).toBe(45);
    round(50, () => 10, 'dropped');
    expect(limiter.limit).toBe(40); // 50 × 0.9 × 0.9 = 40.5
  });

  it('execute() releases a timed-out call as dropped', async () => {
    const { limiter, round } = setup({ initialLimit: 10, minLimit: 2, maxLimit: 10 });
    for (let i = 0; i < 10; i++) round(10, () => 10);
    const timeout = new LifelineError('DEADLINE_EXCEEDED', 'too late', { retryable: false });
    for (let i = 0; i < 10; i++) await limiter.execute(() => Promise.reject(timeout)).catch(() => undefined);
    expect(limiter.limit).toBe(9);
    expect(limiter.inFlight).toBe(0);
  });

  it('queues beyond the limit, and hands a waiter the slot a release frees', async () => {
    const { limiter } = setup({ initialLimit: 2, minLimit: 1, maxLimit: 10, maxQueue: 1 });
    expect(limiter.tryAcquire()).toBe(true);
    expect(limiter.tryAcquire()).toBe(true);
    let granted = false;
    const waiting = limiter.acquire({ deadline: Deadline.after(1_000) }).then(() => (granted = true));
    const full = await limiter.acquire().catch((e: unknown) => e as BulkheadRejectedError);
    expect(full).toMatchObject({ code: 'BULKHEAD_REJECTED', reason: 'queue-full' });
    expect(limiter.queued).toBe(1);
    limiter.release();
    await waiting;
    expect(granted).toBe(true);
    expect(limiter.inFlight).toBe(2);
    limiter.close();
  });

  it('rejects bad options, naming the option', () => {
    expect(() => new AdaptiveLimiter({ initialLimit: 0 })).toThrow(/adaptiveLimiter\.initialLimit/);
    expect(() => new AdaptiveLimiter({ initialLimit: 10, minLimit: 20 })).toThrow(/adaptiveLimiter\.minLimit/);
    expect(() => new AdaptiveLimiter({ initialLimit: 50, maxLimit: 40 })).toThrow(/adaptiveLimiter\.maxLimit/);
    expect(() => new AdaptiveLimiter({ smoothing: 0 })).toThrow(/adaptiveLimiter\.smoothing/);
    expect(() => new AdaptiveLimiter({ smoothing: 1.5 })).toThrow(/adaptiveLimiter\.smoothing/);
    expect(() => new AdaptiveLimiter({ rttTolerance: 0.9 })).toThrow(/adaptiveLimiter\.rttTolerance/);
    expect(() => new AdaptiveLimiter({ longWindow: 2.5 })).toThrow(/adaptiveLimiter\.longWindow/);
    expect(() => new AdaptiveLimiter({ backoffRatio: 1 })).toThrow(/adaptiveLimiter\.backoffRatio/);
    expect(() => new AdaptiveLimiter({ minWindowMs: -1 })).toThrow(/adaptiveLimiter\.minWindowMs/);
    expect(() => new AdaptiveLimiter({ maxQueue: -1 })).toThrow(/adaptiveLimiter\.maxQueue/);
    expect(() => new AdaptiveLimiter({ limit: 5 } as AdaptiveLimiterOptions)).toThrow(/limit/);
    expect(() => new AdaptiveLimiter({ minLimit: 0 }, 'shedding.adaptive')).toThrow(/shedding\.adaptive\.minLimit/);
  });
});

describe('Bulkhead.resize', () => {
  it('hands new slots to waiters at once when raised, and holds released slots back while over a lowered limit', async () => {
    const bulkhead = new Bulkhead({ maxConcurrent: 2, maxQueue: 4 });
    expect(bulkhead.tryAcquire() && bulkhead.tryAcquire()).toBe(true);
    let granted = 0;
    const waiters = [1, 2, 3].map(() => bulkhead.acquire().then(() => granted++));
    bulkhead.resize(4);
    await flush();
    expect(granted).toBe(2);
    expect(bulkhead.snapshot()).toMatchObject({ inFlight: 4, queued: 1, maxConcurrent: 4 });
    bulkhead.resize(2);
    bulkhead.release(); // 3 in flight, over the limit of 2: the waiter keeps waiting
    await flush();
    expect(granted).toBe(2);
    expect(bulkhead.inFlight).toBe(3);
    bulkhead.release(); // 2 in flight: at the limit, still no slot to hand on
    bulkhead.release(); // the freed slot goes to the waiter
    await Promise.all(waiters);
    expect(granted).toBe(3);
    expect(bulkhead.inFlight).toBe(2);
    bulkhead.close();
  });
});

describe('AdaptiveLimiter.releaseBy', () => {
  it('releases as dropped when the release comes at or after the deadline, as success before it', () => {
    const clock = new ManualClock(0);
    const limiter = new AdaptiveLimiter({ initialLimit: 10, minLimit: 2, maxLimit: 10, minWindowMs: 0, clock });
    const window = (deadlineAt: number): void => {
      for (let i = 0; i < 10; i++) expect(limiter.tryAcquire()).toBe(true);
      clock.advance(10);
      for (let i = 0; i < 10; i++) limiter.releaseBy(deadlineAt);
    };
    window(Infinity);
    window(clock.now() + 11); // released 1 ms before the deadline
    expect(limiter.limit).toBe(10);
    window(clock.now() + 10); // released at the deadline
    expect(limiter.limit).toBe(9);
    expect(limiter.inFlight).toBe(0);
  });
});

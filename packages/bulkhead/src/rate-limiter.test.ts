import { getEventListeners } from 'node:events';
import { CoarseTimer, Deadline, isLifelineError, ManualClock } from '@lifeline/core';
import { afterEach, describe, expect, it } from 'vitest';
import type { BulkheadRejectedError, BulkheadRejection } from './bulkhead.ts';
import { RateLimiter, type RateLimiterOptions } from './rate-limiter.ts';

const limiters: RateLimiter[] = [];
afterEach(() => {
  for (const limiter of limiters.splice(0)) limiter.close();
});

function make(options: RateLimiterOptions): RateLimiter {
  const limiter = new RateLimiter(options);
  limiters.push(limiter);
  return limiter;
}

/**
 * A limiter whose one token per minute is spent before the test begins, so every call waits:
 * its queue's waits run on a manual clock and timer, while bottleneck keeps real time.
 */
async function exhausted(options: Partial<RateLimiterOptions> = {}) {
  const clock = new ManualClock(0);
  const timer = new CoarseTimer({ clock, resolution: 10 });
  const limiter = make({ name: 'geocoder', limit: 1, intervalMs: 60_000, clock, timer, ...options });
  await limiter.acquire();
  limiter.release();
  const advance = (ms: number): void => {
    clock.advance(ms);
    timer.runDue();
  };
  return { limiter, clock, advance };
}

const settle = <T>(promise: Promise<T>): Promise<T | BulkheadRejectedError> => promise.catch((error: unknown) => error as BulkheadRejectedError);

describe('RateLimiter', () => {
  it('admits at most `limit` calls per interval', async () => {
    const limit = 10;
    const intervalMs = 300;
    const started = performance.now();
    const limiter = make({ limit, intervalMs, maxQueue: 100 });
    const admittedAt: number[] = [];
    await Promise.all(Array.from({ length: 4 * limit }, () => limiter.execute(() => void admittedAt.push(performance.now() - started))));
    admittedAt.sort((a, b) => a - b);
    // The k-th batch of `limit` needs k refills, each at least intervalMs after the last: a
    // loaded machine only makes them later. (2 ms: bottleneck reads Date.now, not performance.now.)
    admittedAt.forEach((at, i) => expect(at).toBeGreaterThanOrEqual(Math.floor(i / limit) * intervalMs - 2));
    expect(admittedAt).toHaveLength(4 * limit);
    expect(limiter.snapshot()).toMatchObject({ admitted: 4 * limit, inFlight: 0, queued: 0 });
  });

  it('keeps up with a limit far above one token per bottleneck turn, still never above the limit', async () => {
    // 8 000 calls one token at a time take 8 s or more (bottleneck waits ~1 ms per request);
    // asking for up to limit/64 tokens at once, four intervals' worth take about a second.
    const limit = 2_000;
    const intervalMs = 250;
    const started = performance.now();
    const limiter = make({ limit, intervalMs, maxQueue: 4 * limit });
    const admittedAt: number[] = [];
    await Promise.all(Array.from({ length: 4 * limit }, () => limiter.execute(() => void admittedAt.push(performance.now() - started))));
    admittedAt.sort((a, b) => a - b);
    admittedAt.forEach((at, i) => expect(at).toBeGreaterThanOrEqual(Math.floor(i / limit) * intervalMs - 2));
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it('makes a call wait for the next interval once the tokens are spent, then admits it', async () => {
    const limiter = make({ limit: 2, intervalMs: 200 });
    const started = performance.now();
    await limiter.acquire();
    await limiter.acquire();
    expect(limiter.snapshot()).toMatchObject({ inFlight: 2, admitted: 2 });
    await limiter.acquire({ deadline: Deadline.after(10_000) });
    expect(performance.now() - started).toBeGreaterThanOrEqual(195);
    expect(limiter.inFlight).toBe(3);
    limiter.release();
    limiter.release();
    limiter.release();
    limiter.release(); // one too many: inFlight stays at 0
    expect(limiter.inFlight).toBe(0);
  });

  it('never answers synchronously', () => {
    expect(make({ limit: 100, intervalMs: 1_000 }).tryAcquire()).toBe(false);
  });

  it('rejects a call whose deadline passes while it waits, with reason deadline', async () => {
    const { limiter, clock, advance } = await exhausted();
    const waiting = settle(limiter.acquire({ deadline: Deadline.after(100, clock) }));
    expect(limiter.queued).toBe(1);
    advance(200);
    const error = (await waiting) as BulkheadRejectedError;
    expect(isLifelineError(error, 'BULKHEAD_REJECTED')).toBe(true);
    expect(error.reason).toBe('deadline');
    expect(error.message).toBe('rate limiter "geocoder": the deadline passed while waiting for a token');
    expect(error.stack?.split('\n')).toHaveLength(1);
    expect(limiter.snapshot()).toMatchObject({ queued: 0, rejected: { deadline: 1 } });
  });

  it('rejects at once a call whose deadline has already passed', async () => {
    const { limiter, clock } = await exhausted();
    const deadline = Deadline.after(0, clock);
    await expect(limiter.acquire({ deadline })).rejects.toMatchObject({ code: 'BULKHEAD_REJECTED', reason: 'deadline' });
  });

  it('rejects a call that waits longer than maxQueueWait, with reason queue-timeout', async () => {
    const { limiter, advance } = await exhausted({ maxQueueWait: 100 });
    const waiting = settle(limiter.acquire());
    advance(50);
    expect(limiter.queued).toBe(1);
    advance(100);
    expect(await waiting).toMatchObject({ code: 'BULKHEAD_REJECTED', reason: 'queue-timeout' });
  });

  it('rejects an aborted call with reason aborted, the signal’s reason as cause, and removes its listener', async () => {
    const { limiter } = await exhausted();
    const controller = new AbortController();
    const waiting = settle(limiter.acquire({ signal: controller.signal }));
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    controller.abort(new Error('caller went away'));
    const error = (await waiting) as BulkheadRejectedError;
    expect(error).toMatchObject({ code: 'BULKHEAD_REJECTED', reason: 'aborted' });
    expect((error.cause as Error).message).toBe('caller went away');
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    await expect(limiter.acquire({ signal: controller.signal })).rejects.toMatchObject({ reason: 'aborted' });
  });

  it('bounds the queue, a more critical call taking the place of a less critical one', async () => {
    const { limiter } = await exhausted({ maxQueue: 2 });
    const rejections: BulkheadRejection[] = [];
    limiter.onRejected((rejection) => rejections.push(rejection));
    const sheddable = settle(limiter.acquire({ priority: 'sheddable' }));
    const normal = settle(limiter.acquire());
    await expect(limiter.acquire({ priority: 'sheddable' })).rejects.toMatchObject({ reason: 'queue-full' });
    const critical = settle(limiter.acquire({ priority: 'critical' }));
    expect(await sheddable).toMatchObject({ reason: 'queue-full' });
    expect(limiter.queued).toBe(2);
    expect(rejections).toEqual([
      { name: 'geocoder', reason: 'queue-full', inFlight: 0, queued: 2 },
      { name: 'geocoder', reason: 'queue-full', inFlight: 0, queued: 1 },
    ]);
    limiter.close();
    expect(await normal).toMatchObject({ reason: 'closed' });
    expect(await critical).toMatchObject({ reason: 'closed' });
  });

  it('gives each new token to the most critical waiter', async () => {
    const limiter = make({ limit: 1, intervalMs: 150, maxQueue: 3 });
    await limiter.acquire();
    const order: string[] = [];
    const waits = (['sheddable', 'normal', 'critical'] as const).map((priority) =>
      limiter.acquire({ priority }).then(() => order.push(priority)),
    );
    await Promise.all(waits);
    expect(order).toEqual(['critical', 'normal', 'sheddable']);
  });

  it('hands the token a call gave up on to the next caller', async () => {
    const limiter = make({ limit: 1, intervalMs: 300 });
    await limiter.acquire();
    const controller = new AbortController();
    const gaveUp = settle(limiter.acquire({ signal: controller.signal }));
    controller.abort();
    expect(await gaveUp).toMatchObject({ reason: 'aborted' });
    await limiter.acquire({ deadline: Deadline.after(10_000) }); // served by the request the aborted call left behind
    expect(limiter.snapshot()).toMatchObject({ admitted: 2, queued: 0 });
  });

  it('close() rejects waiters and later calls with reason closed', async () => {
    const { limiter } = await exhausted();
    const waiting = settle(limiter.execute(() => 'ran'));
    limiter.close();
    expect(await waiting).toMatchObject({ code: 'BULKHEAD_REJECTED', reason: 'closed' });
    await expect(limiter.execute(() => 'ran')).rejects.toMatchObject({ reason: 'closed', message: 'rate limiter "geocoder": closed' });
    limiter.close(); // twice is fine
  });

  it('execute() passes the signal and deadline through and counts the call in flight while it runs', async () => {
    const limiter = make({ limit: 5, intervalMs: 1_000 });
    const signal = new AbortController().signal;
    const deadline = Deadline.after(5_000);
    const result = await limiter.execute((context) => {
      expect(limiter.inFlight).toBe(1);
      return context;
    }, { signal, deadline });
    expect(result).toEqual({ attempt: 1, signal, deadline });
    expect(limiter.inFlight).toBe(0);
  });

  it('reports its state as plain JSON, and the tokens left', async () => {
    const limiter = make({ name: 'maps', limit: 3, intervalMs: 60_000, maxQueue: 7 });
    await limiter.acquire();
    const snapshot = limiter.snapshot();
    expect(JSON.parse(JSON.stringify(snapshot))).toEqual(snapshot);
    expect(snapshot).toMatchObject({ inFlight: 1, queued: 0, maxConcurrent: 3, limit: 3, intervalMs: 60_000, maxQueue: 7, admitted: 1 });
    expect(snapshot).not.toHaveProperty('key');
    expect(await limiter.remaining()).toBe(2);
  });

  it('refuses an unknown priority', async () => {
    const limiter = make({ limit: 1, intervalMs: 1_000 });
    await expect(limiter.acquire({ priority: 'urgent' as never })).rejects.toThrow(TypeError);
  });

  it.each([
    [{ intervalMs: 1_000 }, /`rateLimiter.limit` must be a number, got undefined/],
    [{ limit: 0, intervalMs: 1_000 }, /`rateLimiter.limit`/],
    [{ limit: 1.5, intervalMs: 1_000 }, /`rateLimiter.limit` must be an integer/],
    [{ limit: 10 }, /`rateLimiter.intervalMs` must be a number/],
    [{ limit: 10, intervalMs: 0 }, /`rateLimiter.intervalMs`/],
    [{ limit: 10, intervalMs: Infinity }, /`rateLimiter.intervalMs` must be a finite number/],
    [{ limit: 10, intervalMs: 1_000, maxQueue: 0 }, /`rateLimiter.maxQueue`/],
    [{ limit: 10, intervalMs: 1_000, maxQueueWait: -1 }, /`rateLimiter.maxQueueWait`/],
    [{ limit: 10, intervalMs: 1_000, name: '' }, /`rateLimiter.name`/],
    [{ limit: 10, interval: 1_000 }, /rateLimiter.*interval.*intervalMs/],
  ])('throws at construction on bad options: %j', (options, message) => {
    expect(() => new RateLimiter(options as RateLimiterOptions)).toThrow(message);
  });

  it('throws at construction without options', () => {
    expect(() => new RateLimiter(undefined as never)).toThrow(/`rateLimiter.limit`/);
  });
});

import fc from 'fast-check';
import { isLifelineError, isThrottled, ManualClock, seededRandom } from '@lifeline/core';
import { describe, expect, it } from 'vitest';
import { AdaptiveThrottle, type AdaptiveThrottleOptions } from './adaptive-throttle.ts';
import { ThrottledError } from './throttled-error.ts';

function make(options: AdaptiveThrottleOptions = {}) {
  const clock = new ManualClock(0);
  const throttle = new AdaptiveThrottle({ name: 'search', clock, random: seededRandom(7), ...options });
  return { clock, throttle };
}

describe('AdaptiveThrottle', () => {
  it('never rejects while the dependency accepts everything', () => {
    const { throttle, clock } = make({ minRequests: 0 });
    for (let i = 0; i < 5_000; i++) {
      expect(throttle.tryAcquire()).toBe(true);
      throttle.record(true);
      clock.advance(3);
    }
    expect(throttle.snapshot()).toMatchObject({ rejectionProbability: 0, rejected: 0 });
  });

  it('is 0 while accepts >= requests / K, and (requests − K × accepts) / (requests + 1) below that', () => {
    const { throttle } = make({ k: 2, minRequests: 0 });
    for (let i = 0; i < 10; i++) throttle.record(i % 2 === 0); // 10 requests, 5 accepts: exactly 1/K
    expect(throttle.rejectionProbability).toBe(0);
    for (let i = 0; i < 10; i++) throttle.record(false); // 20 requests, 5 accepts
    expect(throttle.rejectionProbability).toBeCloseTo((20 - 2 * 5) / 21, 12);
    expect(throttle.snapshot()).toMatchObject({ requests: 20, accepts: 5, k: 2 });
  });

  it('a lone failure on a quiet client rejects nothing: below minRequests the probability is 0', () => {
    const { throttle } = make();
    throttle.record(false);
    expect(throttle.rejectionProbability).toBe(0);
    for (let i = 0; i < 8; i++) throttle.record(false);
    expect(throttle.snapshot()).toMatchObject({ requests: 9, rejectionProbability: 0 });
    throttle.record(false);
    expect(throttle.rejectionProbability).toBe(0.9); // 10 / 11, capped at the default 0.9
    const { throttle: uncapped } = make({ minRequests: 20, maxRejectionProbability: 1 });
    for (let i = 0; i < 19; i++) uncapped.record(false);
    expect(uncapped.rejectionProbability).toBe(0);
    uncapped.record(false);
    expect(uncapped.rejectionProbability).toBeCloseTo(20 / 21, 12);
  });

  it('uncapped, with nothing accepted, almost every attempt is rejected once the window fills, and rejections are counted as requests', () => {
    const { throttle, clock } = make({ windowMs: 1_000, buckets: 10, minRequests: 20, maxRejectionProbability: 1 });
    let sent = 0;
    for (let i = 0; i < 2_000; i++) {
      if (throttle.tryAcquire()) {
        sent++;
        throttle.record(false);
      }
      clock.advance(1); // 1 000 attempts per window
    }
    // 20 sent before the throttle starts, then about one per window (p = r / (r + 1)).
    expect(sent).toBeLessThan(60);
    expect(throttle.rejected).toBe(2_000 - sent);
    const snapshot = throttle.snapshot();
    expect(snapshot.accepts).toBe(0);
    expect(snapshot.rejectionProbability).toBeGreaterThan(0.99);
  });

  it('sends about K × what a dependency at its capacity accepts, and rejects the rest locally', () => {
    for (const k of [2, 1.5]) {
      const { throttle, clock } = make({ k, windowMs: 10_000 });
      let sent = 0;
      let accepted = 0;
      let rejected = 0;
      // One attempt per ms, three times what the dependency takes: it accepts one attempt per 3 ms.
      let nextFree = 0;
      for (let i = 0; i < 100_000; i++) {
        clock.advance(1);
        const measured = i >= 20_000;
        if (!throttle.tryAcquire()) {
          if (measured) rejected++;
          continue;
        }
        const ok = clock.now() >= nextFree;
        if (ok) nextFree = clock.now() + 3;
        throttle.record(ok);
        if (measured) {
          sent++;
          if (ok) accepted++;
        }
      }
      expect(sent / accepted).toBeGreaterThan(k * 0.85);
      expect(sent / accepted).toBeLessThan(k * 1.15);
      expect(rejected).toBeGreaterThan(0);
    }
  });

  it('uncapped, lets traffic back once the dependency recovers: what gets through grows window by window until nothing is rejected', () => {
    const { throttle, clock } = make({ windowMs: 1_000, buckets: 10, maxRejectionProbability: 1 });
    for (let i = 0; i < 2_000; i++) {
      if (throttle.tryAcquire()) throttle.record(false);
      clock.advance(1);
    }
    expect(throttle.rejectionProbability).toBeGreaterThan(0.99);
    const sentPerWindow: number[] = [];
    let recoveredAt = -1;
    for (let i = 0; i < 10_000 && recoveredAt < 0; i++) {
      if (i % 1_000 === 0) sentPerWindow.push(0);
      if (throttle.tryAcquire()) {
        throttle.record(true);
        sentPerWindow[sentPerWindow.length - 1]!++;
      }
      clock.advance(1);
      if (throttle.rejectionProbability === 0) recoveredAt = i;
    }
    // From about one attempt per window, what gets through grows about fivefold per window
    // (K = 2): accepts count double, and the old rejections slide out.
    expect(sentPerWindow[0]! + sentPerWindow[1]! + sentPerWindow[2]!).toBeGreaterThan(0);
    expect(sentPerWindow[5]!).toBeGreaterThan(sentPerWindow[3]!);
    expect(sentPerWindow[6]!).toBeGreaterThan(3 * sentPerWindow[5]!);
    expect(recoveredAt).toBeGreaterThan(0); // within the 10 windows the loop allows
  });

  it('maxRejectionProbability caps the probability: with nothing accepted, the cap\'s complement of the attempts is still sent', () => {
    const { throttle, clock } = make({ windowMs: 1_000, buckets: 10, minRequests: 10, maxRejectionProbability: 0.9 });
    let sent = 0;
    let rejectedWith = -1;
    for (let i = 0; i < 20_000; i++) {
      if (throttle.tryAcquire()) {
        if (i >= 2_000) sent++;
        throttle.record(false);
      } else rejectedWith = throttle.rejection().probability;
      expect(throttle.rejectionProbability).toBeLessThanOrEqual(0.9);
      clock.advance(1);
    }
    // Uncapped, r / (r + 1) with 1 000 attempts per window: about 1 in 1 000 sent. Capped: 1 in 10
    // (18 000 draws, so the share is within a percentage point of it).
    expect(sent / 18_000).toBeGreaterThan(0.09);
    expect(sent / 18_000).toBeLessThan(0.11);
    expect(rejectedWith).toBe(0.9);
    expect(throttle.snapshot()).toMatchObject({ accepts: 0, rejectionProbability: 0.9, maxRejectionProbability: 0.9 });
  });

  it('the cap leaves the K × accepts regime alone: at 3× overload nothing near it is needed', () => {
    const { throttle, clock } = make({ k: 2, maxRejectionProbability: 0.9 });
    let sent = 0;
    let accepted = 0;
    let nextFree = 0;
    for (let i = 0; i < 100_000; i++) {
      clock.advance(1);
      if (!throttle.tryAcquire()) continue;
      const ok = clock.now() >= nextFree;
      if (ok) nextFree = clock.now() + 3;
      throttle.record(ok);
      if (i >= 20_000) {
        sent++;
        if (ok) accepted++;
      }
    }
    expect(sent / accepted).toBeGreaterThan(2 * 0.85);
    expect(sent / accepted).toBeLessThan(2 * 1.15);
  });

  /**
   * After a total outage long enough to fill the window with failures (requests R per window,
   * no accepts) and a dependency that then accepts everything: with a cap c the throttle sends
   * (1 − c) of the attempts from the first instant, so accepts reach (1 − c) R / K — where the
   * formula drops below the cap — after W / K; from there each accept counts K times and they
   * grow as e^(K t / W) until R / K, where the probability is 0: (W / K) ln(1 / (1 − c)) more.
   * With K = 2 and c = 0.9: W / 2 × (1 + ln 10) ≈ 1.65 W, a little more as the first accepts
   * slide out and a bucket's granularity is added; the bound allowed is 2.5 W. Uncapped, the
   * growth starts from about one accept per window: (W / K) ln(R) ≈ 3.5 W at 1 000 per window.
   */
  it('recovers from a total outage within 2.5 windows with the cap at 0.9 (not within 2.5 without it)', () => {
    const recovery = (maxRejectionProbability: number): number => {
      const { throttle, clock } = make({ windowMs: 1_000, buckets: 10, maxRejectionProbability });
      for (let i = 0; i < 5_000; i++) {
        if (throttle.tryAcquire()) throttle.record(false);
        clock.advance(1);
      }
      expect(throttle.rejectionProbability).toBe(Math.min(maxRejectionProbability, throttle.snapshot().requests / (throttle.snapshot().requests + 1)));
      const start = clock.now();
      while (throttle.rejectionProbability > 0 && clock.now() - start < 20_000) {
        if (throttle.tryAcquire()) throttle.record(true);
        clock.advance(1);
      }
      return (clock.now() - start) / 1_000;
    };
    const capped = recovery(0.9);
    expect(capped).toBeGreaterThan(0.5); // W / K at the cap first
    expect(capped).toBeLessThan(2.5);
    expect(recovery(1)).toBeGreaterThan(2.5);
  });

  it('after a quiet spell longer than the window, old failures reject nothing', () => {
    const { throttle, clock } = make({ windowMs: 1_000, random: () => 0 }); // rejects whenever the probability is above 0
    for (let i = 0; i < 50; i++) throttle.record(false);
    expect(throttle.tryAcquire()).toBe(false);
    clock.advance(1_000);
    expect(throttle.tryAcquire()).toBe(true);
    expect(throttle.snapshot()).toMatchObject({ requests: 0, rejectionProbability: 0 });
  });

  it('rejection() is THROTTLED, not retryable, with the time until the window moves and no stack', () => {
    const { throttle, clock } = make({ windowMs: 10_000, buckets: 10 });
    clock.advance(250);
    const error = throttle.rejection();
    expect(error).toBeInstanceOf(ThrottledError);
    expect(isThrottled(error)).toBe(true);
    expect(isLifelineError(error, 'THROTTLED')).toBe(true);
    expect(error).toMatchObject({ code: 'THROTTLED', retryable: false, service: 'search', retryAfterMs: 750, probability: 0 });
    expect(error.stack).not.toMatch(/\n\s+at /);
    expect(new Error('x') instanceof ThrottledError).toBe(false);
  });

  it('execute() fails fast with THROTTLED when rejected; a success is an accept, a failure is not unless isAccepted says so', async () => {
    const { throttle } = make({ minRequests: 0, isAccepted: (e) => (e as Error).message === 'not found' });
    await expect(throttle.execute(() => 1)).resolves.toBe(1);
    await expect(throttle.execute(() => Promise.reject(new Error('not found')))).rejects.toThrow('not found');
    expect(throttle.snapshot()).toMatchObject({ requests: 2, accepts: 2 });
    const { throttle: busy } = make({ minRequests: 0, random: () => 0 });
    await expect(busy.execute(() => Promise.reject(new Error('overloaded')))).rejects.toThrow('overloaded');
    let ran = false;
    const rejected = await busy.execute(() => (ran = true)).catch((e: unknown) => e);
    expect(ran).toBe(false);
    expect(rejected).toMatchObject({ code: 'THROTTLED', probability: 0.5 }); // one request, no accept: 1 / (1 + 1)
  });

  it('validates its options, naming them', () => {
    expect(() => new AdaptiveThrottle({ k: 0.5 })).toThrow(/`throttle.k` must be >= 1, got 0.5/);
    expect(() => new AdaptiveThrottle({ windowMs: 0 })).toThrow(/`throttle.windowMs`/);
    expect(() => new AdaptiveThrottle({ minRequests: -1 })).toThrow(/`throttle.minRequests`/);
    expect(() => new AdaptiveThrottle({ maxRejectionProbability: 0 })).toThrow(/`throttle.maxRejectionProbability` must be above 0 .*got 0$/);
    expect(() => new AdaptiveThrottle({ maxRejectionProbability: 1.5 })).toThrow(/`throttle.maxRejectionProbability` must be between 0 and 1, got 1.5/);
    expect(() => new AdaptiveThrottle({ maxRejectionProbability: -0.1 })).toThrow(/`throttle.maxRejectionProbability` must be between 0 and 1/);
    expect(() => new AdaptiveThrottle({ maxRejectionProbability: '0.9' } as never)).toThrow(/`throttle.maxRejectionProbability` must be a number/);
    expect(new AdaptiveThrottle({ maxRejectionProbability: 1 }).maxRejectionProbability).toBe(1);
    expect(() => new AdaptiveThrottle({ random: 4 } as never)).toThrow(/`throttle.random` must be a function/);
    expect(() => new AdaptiveThrottle({ K: 2 } as never)).toThrow(/unknown option `throttle.K`/);
  });

  it('property: the probability stays in [0, 1) and at most the cap, and is 0 whenever accepts >= requests / K', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 1, max: 10, noNaN: true }),
        fc.double({ min: 0.01, max: 1, noNaN: true }),
        fc.array(fc.record({ accepted: fc.boolean(), advance: fc.integer({ min: 0, max: 400 }) }), { maxLength: 300 }),
        (k, cap, steps) => {
          const { throttle, clock } = make({ k, minRequests: 0, windowMs: 1_000, maxRejectionProbability: cap });
          for (const step of steps) {
            clock.advance(step.advance);
            if (throttle.tryAcquire()) throttle.record(step.accepted);
            const { requests, accepts, rejectionProbability } = throttle.snapshot();
            expect(rejectionProbability).toBeGreaterThanOrEqual(0);
            expect(rejectionProbability).toBeLessThan(1);
            expect(rejectionProbability).toBeLessThanOrEqual(cap);
            if (accepts * k >= requests) expect(rejectionProbability).toBe(0);
          }
        },
      ),
    );
  });
});

import { CircuitBreaker } from '@lifeline/breaker';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Endpoint } from './endpoint.ts';

function endpoint(id: string): Endpoint {
  return new Endpoint({ id, host: '127.0.0.1', port: 4001, zone: undefined, metadata: {} }, new CircuitBreaker(), 'http');
}

const SLOW_CALL_MS = 1_600;

describe('Endpoint latency', () => {
  it('a failure never lowers the EWMA: it counts as at least the penalty, at once', () => {
    const e = endpoint('a');
    e.penalize(0.3, 1_000, SLOW_CALL_MS);
    expect(e.ewma).toBe(SLOW_CALL_MS);
    e.observe(2_500, 1_100, 10_000); // a slow answer: above the penalty
    e.penalize(0.3, 1_200, SLOW_CALL_MS);
    expect(e.ewma).toBe(2_500);
    e.penalize(4_000, 1_300, SLOW_CALL_MS); // a timeout: its own latency
    expect(e.ewma).toBe(4_000);
  });

  it('the first success after a failure measures the endpoint afresh; later ones decay as a peak EWMA', () => {
    const e = endpoint('a');
    e.observe(10, 1_000, 10_000);
    e.penalize(1, 2_000, SLOW_CALL_MS);
    e.observe(12, 3_000, 10_000);
    expect(e.ewma).toBe(12);
    e.observe(50, 4_000, 10_000); // a spike moves it at once
    expect(e.ewma).toBe(50);
    e.observe(10, 14_000, 10_000); // then it decays: e^-1 of the way back
    expect(e.ewma).toBeCloseTo(50 * Math.exp(-1) + 10 * (1 - Math.exp(-1)), 6);
  });

  it('a fast-failing endpoint’s EWMA never drops below a healthy one’s, whatever the order of outcomes', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(fc.boolean(), fc.double({ min: 0.01, max: 5, noNaN: true }), fc.double({ min: 1, max: SLOW_CALL_MS - 1, noNaN: true }), fc.integer({ min: 0, max: 30_000 })),
          { minLength: 1, maxLength: 80 },
        ),
        (steps) => {
          const failing = endpoint('failing');
          const healthy = endpoint('healthy');
          let now = 1;
          for (const [failingGoesFirst, failLatency, okLatency, wait] of steps) {
            now += wait;
            // The healthy endpoint answers within what the breaker tolerates; the failing one fails fast.
            if (failingGoesFirst) failing.penalize(failLatency, now, SLOW_CALL_MS);
            healthy.observe(okLatency, now, 10_000);
            if (!failingGoesFirst) failing.penalize(failLatency, now, SLOW_CALL_MS);
            expect(failing.ewma).toBeGreaterThanOrEqual(healthy.ewma);
          }
        },
      ),
    );
  });

  it('resetLatency forgets what was measured (a breaker going half-open)', () => {
    const e = endpoint('a');
    e.penalize(1, 1_000, SLOW_CALL_MS);
    e.resetLatency();
    expect([e.ewma, e.sampledAt, e.penalized]).toEqual([0, 0, false]);
  });
});

import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import fc from 'fast-check';
import { isLifelineError, ManualClock } from '@lifeline/core';
import { describe, expect, it } from 'vitest';
import { isBreaker, type Breaker, type StateChange } from './breaker.ts';
import { CircuitBreaker, type CircuitBreakerOptions } from './circuit-breaker.ts';
import type { CircuitOpenError } from './circuit-open-error.ts';

function make(options: CircuitBreakerOptions = {}) {
  const clock = new ManualClock(0);
  const breaker = new CircuitBreaker({ name: 'payment', clock, ...options });
  const changes: StateChange[] = [];
  breaker.onStateChange((c) => changes.push(c));
  const fail = (n = 1, ms = 1): void => {
    for (let i = 0; i < n; i++) breaker.failure(breaker.acquire(), ms, new Error('boom'));
  };
  const ok = (n = 1, ms = 1): void => {
    for (let i = 0; i < n; i++) breaker.success(breaker.acquire(), ms);
  };
  return { clock, breaker, changes, fail, ok };
}

const openError = (fn: () => unknown): CircuitOpenError => {
  try {
    fn();
  } catch (error) {
    return error as CircuitOpenError;
  }
  throw new Error('expected CIRCUIT_OPEN');
};

describe('CircuitBreaker', () => {
  it('opens on the failure ratio only once minimumCalls is reached', () => {
    const { breaker, fail, ok, changes } = make({ minimumCalls: 10, failureRatio: 0.5, consecutiveFailures: Infinity });
    ok(5);
    fail(4);
    expect(breaker.state).toBe('closed'); // 4 of 9: under the minimum
    fail(1);
    expect(breaker.state).toBe('open'); // 5 of 10 = 0.5
    expect(changes.map((c) => [c.from, c.to, c.reason])).toEqual([['closed', 'open', 'failure-ratio']]);
  });

  it('never opens on a single failure by default', () => {
    const { breaker, fail } = make();
    fail(1);
    expect(breaker.state).toBe('closed');
  });

  it('opens on N consecutive failures, whatever the ratio', () => {
    const { breaker, fail, ok } = make({ consecutiveFailures: 3, minimumCalls: 1_000 });
    ok(100);
    fail(2);
    ok(1);
    fail(2);
    expect(breaker.state).toBe('closed');
    fail(1);
    expect(breaker.state).toBe('open');
  });

  it('counts slow successes as failures', () => {
    const { breaker, ok } = make({ slowCallMs: 100, consecutiveFailures: 3 });
    ok(2, 150);
    expect(breaker.snapshot()).toMatchObject({ failures: 2, consecutiveFailures: 2 });
    ok(1, 50);
    expect(breaker.snapshot().consecutiveFailures).toBe(0);
    ok(3, 100);
    expect(breaker.state).toBe('open');
  });

  it('isFailure decides what counts (a 404 is not the dependency failing)', () => {
    const notFound = Object.assign(new Error('404'), { status: 404 });
    const { breaker } = make({ consecutiveFailures: 2, isFailure: (e) => (e as { status?: number }).status !== 404 });
    for (let i = 0; i < 10; i++) breaker.failure(breaker.acquire(), 1, notFound);
    expect(breaker.snapshot()).toMatchObject({ state: 'closed', failures: 0, calls: 10 });
  });

  it('forgets outcomes that slid out of the window', () => {
    const { breaker, fail, ok, clock } = make({ minimumCalls: 4, windowMs: 1_000, consecutiveFailures: Infinity });
    fail(3);
    clock.advance(1_100);
    ok(1);
    fail(1);
    expect(breaker.snapshot()).toMatchObject({ state: 'closed', calls: 2, failures: 1 });
  });

  it('fails fast while open, cheaply, with the time until half-open', () => {
    const { breaker, fail, clock } = make({ consecutiveFailures: 1, breakDuration: 5_000 });
    fail();
    clock.advance(1_200);
    const error = openError(() => breaker.acquire());
    expect(isLifelineError(error, 'CIRCUIT_OPEN')).toBe(true);
    expect(error).toMatchObject({ breaker: 'payment', retryAfterMs: 3_800, retryable: false });
    expect(error.stack?.split('\n')).toHaveLength(1);
  });

  it('half-open admits exactly halfOpenProbes at once, and closes after enough successes', () => {
    const { breaker, fail, clock, changes } = make({ consecutiveFailures: 1, breakDuration: 1_000, halfOpenProbes: 2, successesToClose: 3 });
    fail();
    clock.advance(1_000);
    const a = breaker.acquire();
    const b = breaker.acquire();
    expect(openError(() => breaker.acquire()).message).toMatch(/half-open, probes in flight/);
    breaker.success(a);
    const c = breaker.acquire();
    breaker.success(b);
    expect(breaker.state).toBe('half-open');
    breaker.success(c);
    expect(breaker.state).toBe('closed');
    expect(changes.map((x) => x.reason)).toEqual(['consecutive-failures', 'break-elapsed', 'probes-succeeded']);
  });

  it('a failed probe re-opens with a longer break, up to the cap; closing resets it', () => {
    const { breaker, fail, ok, clock } = make({ consecutiveFailures: 1, breakDuration: 1_000, breakMultiplier: 2, maxBreakDuration: 3_000, halfOpenProbes: 1 });
    fail();
    const breaks: number[] = [];
    for (let i = 0; i < 4; i++) {
      breaks.push(breaker.snapshot().halfOpenInMs!);
      clock.advance(breaker.snapshot().halfOpenInMs!);
      fail(); // the probe fails
    }
    expect(breaks).toEqual([1_000, 2_000, 3_000, 3_000]);
    clock.advance(3_000);
    ok();
    expect(breaker.state).toBe('closed');
    fail();
    expect(breaker.snapshot().halfOpenInMs).toBe(1_000);
  });

  it('with breakMemoryMs, opening again soon after closing takes a longer break; later, the first', () => {
    const { breaker, fail, ok, clock } = make({
      consecutiveFailures: 1,
      breakDuration: 1_000,
      maxBreakDuration: 8_000,
      halfOpenProbes: 1,
      breakMemoryMs: 30_000,
    });
    const flap = (): number => {
      fail();
      const open = breaker.snapshot().halfOpenInMs!;
      clock.advance(open);
      ok(); // one probe succeeds: closed
      expect(breaker.state).toBe('closed');
      return open;
    };
    expect([flap(), flap(), flap(), flap(), flap()]).toEqual([1_000, 2_000, 4_000, 8_000, 8_000]);
    expect(breaker.snapshot().breakDuration).toBe(8_000);
    clock.advance(30_000);
    expect(breaker.snapshot().breakDuration).toBe(1_000);
    expect(flap()).toBe(1_000);
    expect(() => new CircuitBreaker({ breakMemoryMs: -1 })).toThrow(/`breaker.breakMemoryMs`/);
  });

  it('ignores results of calls admitted before the last transition', () => {
    const { breaker, fail, clock } = make({ consecutiveFailures: 2, breakDuration: 100, halfOpenProbes: 1 });
    const stale = breaker.acquire();
    fail(2);
    clock.advance(100);
    const probe = breaker.acquire();
    breaker.failure(stale, 1); // from before the open: says nothing about now
    expect(breaker.state).toBe('half-open');
    breaker.success(probe);
    expect(breaker.state).toBe('closed');
  });

  it('cancel frees a probe slot without a verdict', () => {
    const { breaker, fail, clock } = make({ consecutiveFailures: 1, breakDuration: 100, halfOpenProbes: 1 });
    fail();
    clock.advance(100);
    const probe = breaker.acquire();
    expect(breaker.allowsCalls).toBe(false);
    breaker.cancel(probe);
    expect(breaker.allowsCalls).toBe(true);
    expect(breaker.state).toBe('half-open');
  });

  it('endBreak() moves an open breaker to half-open at once; its probes decide; nothing in any other state', () => {
    const { breaker, fail, ok, changes } = make({ consecutiveFailures: 1, breakDuration: 30_000, breakMultiplier: 2, maxBreakDuration: 60_000, halfOpenProbes: 1 });
    expect(breaker.endBreak()).toBe(false); // closed
    fail();
    expect(breaker.snapshot().halfOpenInMs).toBe(30_000);
    expect(breaker.endBreak()).toBe(true);
    expect(breaker.state).toBe('half-open');
    expect(breaker.endBreak()).toBe(false); // half-open already
    fail(); // the probe fails: open again, with the longer break
    expect(breaker.snapshot()).toMatchObject({ state: 'open', halfOpenInMs: 60_000 });
    expect(breaker.endBreak()).toBe(true);
    ok(); // the probe succeeds: closed
    expect(breaker.state).toBe('closed');
    expect(changes.map((c) => [c.to, c.reason])).toEqual([
      ['open', 'consecutive-failures'],
      ['half-open', 'break-elapsed'],
      ['open', 'probe-failed'],
      ['half-open', 'break-elapsed'],
      ['closed', 'probes-succeeded'],
    ]);
    breaker.forceOpen();
    expect(breaker.endBreak()).toBe(false); // an operator's override stands
    expect(breaker.state).toBe('forced-open');
  });

  it('operator overrides: force-open, disable, reset', () => {
    const { breaker, fail, changes } = make({ consecutiveFailures: 1 });
    breaker.forceOpen();
    expect(openError(() => breaker.acquire()).retryAfterMs).toBeUndefined();
    breaker.disable();
    fail(50);
    expect(breaker.snapshot()).toMatchObject({ state: 'disabled', calls: 0 });
    breaker.reset();
    expect(breaker.state).toBe('closed');
    expect(changes.map((c) => c.to)).toEqual(['forced-open', 'disabled', 'closed']);
  });

  it('execute() reports outcomes and rethrows', async () => {
    const { breaker } = make({ consecutiveFailures: 2 });
    await expect(breaker.execute(() => 'ok')).resolves.toBe('ok');
    await expect(breaker.execute(() => Promise.reject(new Error('x')))).rejects.toThrow('x');
    await expect(breaker.execute(() => Promise.reject(new Error('y')))).rejects.toThrow('y');
    await expect(breaker.execute(() => 'never runs')).rejects.toMatchObject({ code: 'CIRCUIT_OPEN' });
  });

  it('publishes transitions on the lifeline:breaker:state diagnostics channel, snapshot as plain JSON', () => {
    const seen: unknown[] = [];
    const listener = (message: unknown): void => void seen.push(message);
    subscribe('lifeline:breaker:state', listener);
    try {
      const { fail } = make({ consecutiveFailures: 1 });
      fail();
    } finally {
      unsubscribe('lifeline:breaker:state', listener);
    }
    expect(seen).toHaveLength(1);
    const change = seen[0] as StateChange;
    expect(change).toMatchObject({ name: 'payment', from: 'closed', to: 'open', reason: 'consecutive-failures' });
    expect(JSON.parse(JSON.stringify(change.snapshot))).toEqual(change.snapshot);
  });

  it('is a Breaker: the seam a client puts around each attempt', () => {
    const breaker: Breaker = make({ consecutiveFailures: 1 }).breaker;
    expect(isBreaker(breaker)).toBe(true);
    breaker.failure(breaker.acquire(), 1, new Error('boom'));
    expect(breaker.state).toBe('open');
    expect(breaker.allowsCalls).toBe(false);
    expect(isBreaker({ acquire: () => 0, execute: () => undefined })).toBe(false);
    expect(isBreaker(null)).toBe(false);
  });

  it('rejects bad options naming them', () => {
    expect(() => new CircuitBreaker({ failureRatio: 1.5 })).toThrow(/`breaker.failureRatio` must be between 0 and 1, got 1.5/);
    expect(() => new CircuitBreaker({ failureRatio: 0 })).toThrow(/`breaker.failureRatio` must be > 0/);
    expect(() => new CircuitBreaker({ minimumCalls: 0 })).toThrow(/`breaker.minimumCalls` must be >= 1, got 0/);
    expect(() => new CircuitBreaker({ halfOpenProbes: 0 })).toThrow(/`breaker.halfOpenProbes`/);
    expect(() => new CircuitBreaker({ breakDuration: -1 })).toThrow(/`breaker.breakDuration`/);
    expect(() => new CircuitBreaker({ breakDuration: 10_000, maxBreakDuration: 1_000 })).toThrow(/maxBreakDuration/);
    expect(() => new CircuitBreaker({ isFailure: 1 as never })).toThrow(/`breaker.isFailure` must be a function/);
  });
});

describe('CircuitBreaker properties', () => {
  type Op = { kind: 'acquire'; times: number } | { kind: 'success' | 'failure' | 'cancel'; index: number } | { kind: 'wait'; ms: number };
  const op: fc.Arbitrary<Op> = fc.oneof(
    // Bursts: probes pile up in half-open only when several calls arrive before any result.
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('acquire' as const), times: fc.integer({ min: 1, max: 6 }) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('success' as const), index: fc.nat() }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('failure' as const), index: fc.nat() }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('cancel' as const), index: fc.nat() }) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 3_000 }).map<Op>((ms) => ({ kind: 'wait', ms })) },
  );
  const legal = new Set(['closed>open', 'open>half-open', 'half-open>open', 'half-open>closed']);

  it('half-open never admits more probes than configured; no transition is skipped', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 5 }), fc.array(op, { maxLength: 300 }), (probes, consecutive, ops) => {
        const clock = new ManualClock(0);
        const breaker = new CircuitBreaker({ clock, halfOpenProbes: probes, consecutiveFailures: consecutive, minimumCalls: 5, breakDuration: 1_000 });
        const changes: StateChange[] = [];
        breaker.onStateChange((c) => changes.push(c));
        // Tickets still outstanding, with the state they were admitted in.
        const open: { ticket: number; halfOpen: boolean }[] = [];
        for (const o of ops) {
          if (o.kind === 'wait') clock.advance(o.ms);
          else if (o.kind === 'acquire') {
            for (let i = 0; i < o.times; i++) {
              const before = breaker.state;
              try {
                open.push({ ticket: breaker.acquire(), halfOpen: before === 'half-open' || breaker.state === 'half-open' });
              } catch (error) {
                expect(isLifelineError(error, 'CIRCUIT_OPEN')).toBe(true);
                expect(breaker.state).not.toBe('closed');
              }
              expect(breaker.snapshot().probesInFlight).toBeLessThanOrEqual(probes);
            }
          } else if (open.length > 0) {
            const { ticket } = open.splice(o.index % open.length, 1)[0]!;
            if (o.kind === 'success') breaker.success(ticket);
            else if (o.kind === 'failure') breaker.failure(ticket);
            else breaker.cancel(ticket);
          }
          const snap = breaker.snapshot();
          expect(snap.probesInFlight).toBeLessThanOrEqual(probes);
          if (snap.state === 'half-open') {
            // Probes in flight are a subset of the outstanding tickets admitted in this half-open.
            expect(snap.probesInFlight).toBeLessThanOrEqual(open.filter((t) => t.halfOpen).length);
          }
        }
        let previous = 'closed';
        for (const c of changes) {
          expect(c.from).toBe(previous);
          expect(legal.has(`${c.from}>${c.to}`)).toBe(true);
          previous = c.to;
        }
      }),
      { numRuns: 300 },
    );
  });

  it('while closed, never more failures in a row than the limit without opening', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10 }), fc.array(fc.boolean(), { maxLength: 200 }), (limit, outcomes) => {
        const breaker = new CircuitBreaker({ clock: new ManualClock(), consecutiveFailures: limit, minimumCalls: 1_000 });
        let run = 0;
        for (const failed of outcomes) {
          if (breaker.state !== 'closed') break;
          const t = breaker.acquire();
          if (failed) breaker.failure(t);
          else breaker.success(t);
          run = failed ? run + 1 : 0;
          expect(breaker.snapshot().state === 'open').toBe(run >= limit);
        }
      }),
    );
  });
});

import fc from 'fast-check';
import { HttpStatusError, isLifelineError, LifelineError, ManualClock, seededRandom, type ResponseHeaders } from '@lifeline/core';
import { describe, expect, it } from 'vitest';
import { ExponentialBackoff, type Backoff } from './backoff.ts';
import { RetryBudget } from './retry-budget.ts';
import { RetryDecision, requestedWaitMs, type RetryInput } from './retry-decision.ts';
import type { GiveUpEvent, RetryEvent } from './retry-events.ts';
import { RetryPolicy, type RetryPolicyOptions } from './retry-policy.ts';

const coded = (code: string): Error => Object.assign(new Error(code), { code });
const reset = (): Error => coded('ECONNRESET');
const refused = (): Error => coded('ECONNREFUSED');
/** A fixed 100 ms backoff, a 50 ms minimal attempt, a server's wait × 1.25 (0.5 × 0.5 jitter): every delay below is exact. */
function policy(options: RetryPolicyOptions = {}): RetryPolicy {
  return new RetryPolicy({
    backoff: new ExponentialBackoff({ base: 100, factor: 1, jitter: 'none' }),
    minAttemptTime: 50,
    random: () => 0.5,
    serverDelayJitter: 0.5,
    budget: new RetryBudget({ ratio: 0, minRetriesPerSecond: 100, clock: new ManualClock() }),
    ...options,
  });
}
/** Headers that record which names were read. */
function watched(headers: ResponseHeaders): { headers: ResponseHeaders; read: string[] } {
  const read: string[] = [];
  return { read, headers: new Proxy(headers, { get: (target, name) => (read.push(String(name)), target[name as string]) }) };
}
function events(p: RetryPolicy): { retries: RetryEvent[]; giveUps: GiveUpEvent[] } {
  const retries: RetryEvent[] = [];
  const giveUps: GiveUpEvent[] = [];
  p.onRetry((e) => retries.push(e));
  p.onGiveUp((e) => giveUps.push(e));
  return { retries, giveUps };
}

describe('RetryPolicy.decide', () => {
  describe('a response that is not a retryable failure is the answer', () => {
    it.each([200, 204, 304, 400, 404, 409, 501, 505])('%i → answer, without reading a header or taking a retry', (status) => {
      const p = policy();
      const { headers, read } = watched({ 'retry-after': '1' });
      const decision = p.decide({ attempt: 1, status, headers });
      expect(decision).toMatchObject({ retry: false, reason: 'answer', delayMs: 0, retryAfterMs: undefined });
      expect(read).toEqual([]);
      expect(p.budget!.snapshot().retries).toBe(0);
    });

    it('a 500 is retried for an idempotent call and is the answer for any other', () => {
      expect(policy().decide({ attempt: 1, status: 500 })).toMatchObject({ retry: true, delayMs: 100 });
      expect(policy().decide({ attempt: 1, status: 500, idempotent: false }).reason).toBe('answer');
    });

    it('returns one shared frozen decision per stop reason when no object is passed in, and fires no event', () => {
      const p = policy();
      const { retries, giveUps } = events(p);
      const first = p.decide({ attempt: 1, status: 200 });
      expect(p.decide({ attempt: 2, status: 404 })).toBe(first);
      expect(Object.isFrozen(first)).toBe(true);
      expect(p.decide({ attempt: 3, status: 503 })).toBe(p.decide({ attempt: 3, error: reset() })); // both 'attempts'
      expect(retries).toEqual([]);
      expect(giveUps.map((e) => e.reason)).toEqual(['attempts', 'attempts']);
    });
  });

  describe('into: one decision object reused', () => {
    it('is filled and returned for a retry and for every kind of stop', () => {
      const p = policy();
      const into = new RetryDecision();
      expect(p.decide({ attempt: 1, status: 503, headers: { 'retry-after': '1' } }, into)).toBe(into);
      expect(into).toEqual(Object.assign(new RetryDecision(), { retry: true, delayMs: 1_250, retryAfterMs: 1_000 }));
      expect(p.decide({ attempt: 1, status: 200 }, into)).toBe(into);
      expect(into).toEqual(Object.assign(new RetryDecision(), { reason: 'answer' }));
      expect(p.decide({ attempt: 3, status: 429, headers: { 'retry-after': '2' } }, into)).toBe(into);
      expect(into).toEqual(Object.assign(new RetryDecision(), { reason: 'attempts', retryAfterMs: 2_000 }));
    });
  });

  describe('not-retryable', () => {
    it('a failure the predicate refuses', () => {
      const p = policy();
      const { giveUps } = events(p);
      const notFound = new HttpStatusError(404, {}, '', { retryable: false });
      expect(p.decide({ attempt: 1, error: notFound }).reason).toBe('not-retryable');
      expect(p.decide({ attempt: 1, error: new Error('bug') }).reason).toBe('not-retryable');
      expect(giveUps).toEqual([
        { reason: 'not-retryable', attempt: 1, error: notFound },
        { reason: 'not-retryable', attempt: 1, error: expect.objectContaining({ message: 'bug' }) },
      ]);
    });

    it('a request whose body cannot be sent again, whatever the failure', () => {
      const p = policy();
      expect(p.decide({ attempt: 1, status: 503, replayable: false }).reason).toBe('not-retryable');
      expect(p.decide({ attempt: 1, error: refused(), replayable: false }).reason).toBe('not-retryable');
      expect(p.budget!.snapshot().retries).toBe(0);
    });

    it('a non-idempotent call that may have reached the server: a retryable status, a reset, a timeout', () => {
      const p = policy();
      expect(p.decide({ attempt: 1, status: 503, idempotent: false }).reason).toBe('not-retryable');
      expect(p.decide({ attempt: 1, status: 429, idempotent: false }).reason).toBe('not-retryable');
      expect(p.decide({ attempt: 1, error: reset(), idempotent: false }).reason).toBe('not-retryable');
      const timeout = new LifelineError('ATTEMPT_TIMEOUT', 'slow', { retryable: true });
      expect(p.decide({ attempt: 1, error: timeout, idempotent: false }).reason).toBe('not-retryable');
    });

    it('but a connect failure is retried for any call: nothing was sent', () => {
      const p = policy();
      expect(p.decide({ attempt: 1, error: refused(), idempotent: false })).toMatchObject({ retry: true, delayMs: 100 });
      const connect = new LifelineError('CONNECT', 'connect failed', { retryable: true, cause: refused() });
      expect(p.decide({ attempt: 1, error: connect, idempotent: false })).toMatchObject({ retry: true });
      const fetchFailed = new TypeError('fetch failed', { cause: coded('ENOTFOUND') });
      expect(p.decide({ attempt: 1, error: fetchFailed, idempotent: false })).toMatchObject({ retry: true });
    });

    it('a predicate of your own sees a retryable status as an HttpStatusError, with the parsed wait', () => {
      const seen: unknown[] = [];
      const p = policy({
        shouldRetry: (error, attempt) => {
          seen.push(error, attempt);
          return !(isLifelineError(error, 'HTTP_STATUS') && error.status === 429);
        },
      });
      expect(p.decide({ attempt: 1, status: 503, headers: { 'retry-after': '1' } }).retry).toBe(true);
      expect(p.decide({ attempt: 2, status: 429 }).reason).toBe('not-retryable');
      expect(seen[0]).toBeInstanceOf(HttpStatusError);
      expect(seen[0]).toMatchObject({ status: 503, retryable: true, retryAfterMs: 1_000, headers: { 'retry-after': '1' } });
      expect(seen[1]).toBe(1);
      expect(seen[3]).toBe(2);
    });
  });

  describe('attempts', () => {
    it('stops after the last attempt, and not before', () => {
      const p = policy({ maxAttempts: 3 });
      expect(p.decide({ attempt: 2, error: reset() }).retry).toBe(true);
      expect(p.decide({ attempt: 3, error: reset() }).reason).toBe('attempts');
      expect(policy({ maxAttempts: 1 }).decide({ attempt: 1, status: 503 }).reason).toBe('attempts');
    });

    it('a failure that is not retryable says so even on the last attempt', () => {
      expect(policy({ maxAttempts: 1 }).decide({ attempt: 1, error: new Error('bug') }).reason).toBe('not-retryable');
    });
  });

  describe("the server's wait", () => {
    it('Retry-After is honoured, jittered upwards, and returned parsed', () => {
      const decision = policy().decide({ attempt: 1, status: 503, headers: { 'retry-after': '2' } });
      // 2 000 × (1 + 0.5 × 0.5): later than the 100 ms backoff.
      expect(decision).toMatchObject({ retry: true, delayMs: 2_500, retryAfterMs: 2_000 });
    });

    it('a backoff longer than the server asked for wins', () => {
      const p = policy({ backoff: new ExponentialBackoff({ base: 500, factor: 1, jitter: 'none' }) });
      expect(p.decide({ attempt: 1, status: 503, headers: { 'retry-after': '0' } })).toMatchObject({ delayMs: 500, retryAfterMs: 0 });
    });

    it('a wait beyond maxServerDelay is not retried early: server-delay, with the wait for the caller', () => {
      const p = policy({ maxServerDelay: 10_000 });
      const { giveUps } = events(p);
      expect(p.decide({ attempt: 1, status: 429, headers: { 'retry-after': '11' } })).toMatchObject({
        retry: false,
        reason: 'server-delay',
        retryAfterMs: 11_000,
      });
      expect(p.decide({ attempt: 1, status: 429, headers: { 'retry-after': '10' } })).toMatchObject({ retry: true, delayMs: 12_500 });
      expect(giveUps).toEqual([{ reason: 'server-delay', attempt: 1, error: undefined, status: 429 }]);
      expect(p.budget!.snapshot().retries).toBe(1);
    });

    it("an exhausted RateLimit quota's reset is honoured when there is no Retry-After", () => {
      const p = policy();
      const headers = { ratelimit: '"default";r=0;t=3' };
      expect(p.decide({ attempt: 1, status: 429, headers })).toMatchObject({ retry: true, delayMs: 3_750, retryAfterMs: 3_000 });
      // Quota left: nothing to wait for but the backoff.
      expect(p.decide({ attempt: 1, status: 429, headers: { ratelimit: '"default";r=5;t=3' } })).toMatchObject({ delayMs: 100, retryAfterMs: undefined });
      // Retry-After takes precedence (the draft's rule).
      expect(p.decide({ attempt: 1, status: 429, headers: { ...headers, 'retry-after': '1' } }).retryAfterMs).toBe(1_000);
    });

    it('a wait the caller parsed already is used, and the headers are not read', () => {
      const { headers, read } = watched({ 'retry-after': '9' });
      expect(policy().decide({ attempt: 1, status: 503, headers, retryAfterMs: 1_000 })).toMatchObject({ delayMs: 1_250, retryAfterMs: 1_000 });
      expect(read).toEqual([]);
    });

    it("an error's own retryAfterMs is honoured", () => {
      const error = new LifelineError('HTTP_STATUS', '503', { retryable: true, retryAfterMs: 1_000 });
      expect(policy().decide({ attempt: 1, error })).toMatchObject({ delayMs: 1_250, retryAfterMs: 1_000 });
    });

    it('requestedWaitMs reads the same precedence on its own', () => {
      expect(requestedWaitMs({ 'retry-after': '2', ratelimit: '"d";r=0;t=30' })).toBe(2_000);
      expect(requestedWaitMs({ ratelimit: '"d";r=0;t=30' })).toBe(30_000);
      expect(requestedWaitMs({ 'retry-after': 'soon' })).toBeUndefined();
    });
  });

  describe('deadline', () => {
    it('retries only when the wait plus a minimal attempt fits in the time left', () => {
      const p = policy();
      const { giveUps } = events(p);
      expect(p.decide({ attempt: 1, error: reset(), remainingMs: 149 }).reason).toBe('deadline'); // 100 + 50 > 149
      expect(p.decide({ attempt: 1, error: reset(), remainingMs: 150 })).toMatchObject({ retry: true, delayMs: 100 });
      expect(giveUps.map((e) => e.reason)).toEqual(['deadline']);
    });

    it("counts the server's jittered wait, not the backoff", () => {
      const p = policy();
      const headers = { 'retry-after': '1' };
      expect(p.decide({ attempt: 1, status: 503, headers, remainingMs: 1_299 }).reason).toBe('deadline'); // 1 250 + 50
      expect(p.decide({ attempt: 1, status: 503, headers, remainingMs: 1_300 }).retry).toBe(true);
    });
  });

  describe('budget', () => {
    it('is drawn from only when the answer is retry', () => {
      const budget = new RetryBudget({ ratio: 0, minRetriesPerSecond: 0.2, windowMs: 10_000, clock: new ManualClock() }); // 2 retries
      const p = policy({ budget, maxAttempts: 3 });
      p.decide({ attempt: 1, status: 200 });
      p.decide({ attempt: 1, error: new Error('bug') });
      p.decide({ attempt: 3, error: reset() });
      p.decide({ attempt: 1, error: reset(), remainingMs: 10 });
      p.decide({ attempt: 1, error: reset(), aborted: true });
      p.decide({ attempt: 1, status: 503, headers: { 'retry-after': '60' } });
      expect(budget.snapshot().retries).toBe(0);
      expect(p.decide({ attempt: 1, error: reset() }).retry).toBe(true);
      expect(budget.snapshot().retries).toBe(1);
    });

    it('refuses at once when spent: budget, with the wait still reported', () => {
      const budget = new RetryBudget({ ratio: 0, minRetriesPerSecond: 0.1, windowMs: 10_000, clock: new ManualClock() }); // 1 retry
      const p = policy({ budget });
      const { giveUps } = events(p);
      expect(p.decide({ attempt: 1, error: reset() }).retry).toBe(true);
      expect(p.decide({ attempt: 1, status: 503, headers: { 'retry-after': '1' } })).toMatchObject({ retry: false, reason: 'budget', retryAfterMs: 1_000 });
      expect(giveUps).toEqual([{ reason: 'budget', attempt: 1, error: undefined, status: 503 }]);
      expect(budget.snapshot()).toMatchObject({ retries: 1, exhausted: true });
    });

    it("reports every attempt's outcome to the token bucket: answers refill it, failures drain it", () => {
      const budget = new RetryBudget({ maxTokens: 100, tokenRatio: 0.5, clock: new ManualClock() });
      const p = policy({ budget, maxAttempts: 1 });
      const tokens = (): number | null => budget.snapshot().tokens;
      for (let i = 0; i < 4; i++) p.decide({ attempt: 1, status: 503 }); // failures, even on the last attempt
      expect(tokens()).toBe(96);
      p.decide({ attempt: 1, status: 500, idempotent: false }); // the answer, but a failing dependency
      p.decide({ attempt: 1, status: 429 });
      p.decide({ attempt: 1, error: reset(), idempotent: false }); // not retried (may have been acted on), still a failure
      p.decide({ attempt: 1, error: reset(), replayable: false });
      expect(tokens()).toBe(92);
      p.decide({ attempt: 1, error: new Error('bug') }); // not retryable: says nothing about the dependency
      p.decide({ attempt: 1, error: reset(), aborted: true }); // the caller stopped: neither
      p.decide({ attempt: 1, status: 503, aborted: true });
      expect(tokens()).toBe(92);
      p.decide({ attempt: 1, status: 200 });
      p.decide({ attempt: 1, status: 404 });
      p.recordSuccess();
      expect(tokens()).toBe(93.5);
    });

    it('a failure is reported before the retry is asked for: the bucket closes after maxTokens / 2 failures', () => {
      const budget = new RetryBudget({ maxTokens: 6, tokenRatio: 0.1, clock: new ManualClock() });
      const p = policy({ budget, maxAttempts: 100 });
      const answers = [1, 2, 3, 4].map((attempt) => p.decide({ attempt, error: reset() }).reason ?? 'retry');
      expect(answers).toEqual(['retry', 'retry', 'budget', 'budget']); // 5, 4 > 3; then 3, 2
      p.decide({ attempt: 1, status: 200 });
      expect(p.decide({ attempt: 5, status: 503 }).reason).toBe('budget'); // 2.1 − 1: a success is not enough
    });

    it('recordCall counts a call in the budget', () => {
      const budget = new RetryBudget({ ratio: 0.5, minRetriesPerSecond: 0, clock: new ManualClock() });
      const p = policy({ budget });
      expect(p.decide({ attempt: 1, error: reset() }).reason).toBe('budget');
      p.recordCall();
      p.recordCall();
      expect(budget.snapshot().requests).toBe(2);
      expect(p.decide({ attempt: 1, error: reset() }).retry).toBe(true);
    });
  });

  describe('aborted', () => {
    it('stops whatever happened, takes no retry and fires no event', () => {
      const p = policy();
      const { retries, giveUps } = events(p);
      expect(p.decide({ attempt: 1, error: reset(), aborted: true }).reason).toBe('aborted');
      expect(p.decide({ attempt: 1, status: 503, aborted: true }).reason).toBe('aborted');
      expect([retries, giveUps]).toEqual([[], []]);
      expect(p.budget!.snapshot().retries).toBe(0);
    });
  });

  describe('events and backoff state', () => {
    it('onRetry carries the status for a response, the error otherwise', () => {
      const p = policy();
      const { retries } = events(p);
      const error = reset();
      p.decide({ attempt: 1, status: 502 });
      p.decide({ attempt: 2, error });
      expect(retries).toEqual([
        { attempt: 1, delay: 100, error: undefined, status: 502 },
        { attempt: 2, delay: 100, error },
      ]);
    });

    it('hands the backoff the retry number and the previous wait (decorrelated jitter grows from it)', () => {
      const calls: [number, number][] = [];
      const backoff: Backoff = { next: (retry, previous) => (calls.push([retry, previous]), 7) };
      const p = policy({ backoff, maxAttempts: 5 });
      p.decide({ attempt: 1, error: reset() });
      p.decide({ attempt: 2, error: reset(), previousDelayMs: 7 });
      expect(calls).toEqual([[1, 0], [2, 7]]);
    });

    it('a broken backoff cannot make a retry loop spin or overflow a timer', () => {
      const nan = policy({ backoff: { next: () => Number.NaN } });
      expect(nan.decide({ attempt: 1, error: reset() })).toMatchObject({ retry: true, delayMs: 0 });
      const huge = policy({ backoff: { next: () => 1e15 } });
      expect(huge.decide({ attempt: 1, error: reset() }).delayMs).toBe(2 ** 31 - 1);
      expect(huge.decide({ attempt: 1, error: reset(), remainingMs: 60_000 }).reason).toBe('deadline');
    });
  });

  describe('properties', () => {
    const outcome = fc.oneof(
      fc.record({ status: fc.constantFrom(200, 404, 429, 500, 501, 502, 503, 504) }),
      fc.record({
        error: fc.constantFrom<unknown>(
          reset(),
          refused(),
          new LifelineError('CONNECT', 'connect', { retryable: true }),
          new LifelineError('ATTEMPT_TIMEOUT', 'slow', { retryable: true }),
          new LifelineError('HTTP_STATUS', '503', { retryable: true, retryAfterMs: 3_000 }),
          new Error('bug'),
          undefined,
        ),
      }),
    );
    const input = fc.record(
      {
        attempt: fc.integer({ min: 1, max: 5 }),
        outcome,
        headers: fc.record({ 'retry-after': fc.oneof(fc.constantFrom('0', '1', '5', '30', 'soon'), fc.nat({ max: 100 }).map(String)) }, { requiredKeys: [] }),
        retryAfterMs: fc.option(fc.double({ min: 0, max: 60_000, noNaN: true }), { nil: undefined }),
        idempotent: fc.option(fc.boolean(), { nil: undefined }),
        replayable: fc.option(fc.boolean(), { nil: undefined }),
        remainingMs: fc.option(fc.oneof(fc.double({ min: 0, max: 20_000, noNaN: true }), fc.constant(Infinity)), { nil: undefined }),
        previousDelayMs: fc.option(fc.nat({ max: 5_000 }), { nil: undefined }),
      },
      { requiredKeys: ['attempt', 'outcome'] },
    );
    const toInput = ({ outcome: o, ...rest }: { outcome: { status?: number; error?: unknown } } & Omit<RetryInput, 'status' | 'error'>): RetryInput => ({ ...rest, ...o });

    it('never waits beyond the time left (the wait plus a minimal attempt fits), and takes a token exactly when it retries', () => {
      fc.assert(
        fc.property(input, fc.integer({ min: 0, max: 2 ** 31 - 1 }), (generated, seed) => {
          const p = new RetryPolicy({ maxAttempts: 4, minAttemptTime: 50, random: seededRandom(seed), backoff: new ExponentialBackoff({ random: seededRandom(seed + 1) }) });
          const before = p.budget!.snapshot().retries;
          const args = toInput(generated);
          const decision = p.decide(args);
          expect(p.budget!.snapshot().retries - before).toBe(decision.retry ? 1 : 0);
          if (!decision.retry) return;
          expect(decision.delayMs).toBeGreaterThanOrEqual(0);
          expect(decision.delayMs + 50).toBeLessThanOrEqual(args.remainingMs ?? Infinity);
          expect(Number.isFinite(decision.delayMs)).toBe(true);
        }),
        { numRuns: 2_000 },
      );
    });

    it('never retries a non-idempotent unkeyed call unless nothing was sent, nor a request that cannot be sent again', () => {
      fc.assert(
        fc.property(input, (generated) => {
          const args = toInput(generated);
          const decision = policy({ budget: false }).decide(args);
          if (args.replayable === false) expect(decision.retry).toBe(false);
          if (args.idempotent === false && decision.retry) {
            // Only a connect failure: the request never left this process.
            expect(args.status ?? 0).toBe(0);
            const code = (args.error as { code?: string } | undefined)?.code;
            expect(['ECONNREFUSED', 'CONNECT']).toContain(code);
          }
        }),
        { numRuns: 2_000 },
      );
    });
  });
});


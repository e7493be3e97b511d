import { createHook } from 'node:async_hooks';
import { Deadline, isLifelineError, LifelineError, ManualClock } from '@lifeline/core';
import { describe, expect, it } from 'vitest';
import { ExponentialBackoff } from './backoff.ts';
import { RetryBudget } from './retry-budget.ts';
import { RetryPolicy } from './retry-policy.ts';
import type { GiveUpEvent, RetryEvent } from './retry-events.ts';

type Timeout = ReturnType<typeof setTimeout>;

const transient = (message = 'transient', retryAfterMs?: number): LifelineError =>
  new LifelineError('SOCKET', message, { retryable: true, retryAfterMs });
const noWait = new ExponentialBackoff({ base: 0, cap: 0 });

function failing(times: number, error: () => Error = () => transient()) {
  let calls = 0;
  const fn = (): Promise<string> => (++calls <= times ? Promise.reject(error()) : Promise.resolve(`ok after ${calls}`));
  return { fn, calls: () => calls };
}

describe('RetryPolicy', () => {
  it('execute() reports each attempt to the token bucket: failures drain it, the success refills it', async () => {
    const budget = new RetryBudget({ maxTokens: 10, tokenRatio: 0.25, clock: new ManualClock() });
    const policy = new RetryPolicy({ maxAttempts: 3, backoff: noWait, budget });
    await expect(policy.execute(failing(2).fn)).resolves.toBe('ok after 3');
    expect(budget.snapshot().tokens).toBe(8.25);
    await expect(policy.execute(() => 'sync')).resolves.toBe('sync');
    expect(budget.snapshot().tokens).toBe(8.5);
    await expect(policy.execute(failing(1, () => new Error('bug')).fn)).rejects.toThrow('bug');
    expect(budget.snapshot().tokens).toBe(8.5); // a failure no one would retry says nothing about the dependency
  });

  it('retries transient failures and returns the first success', async () => {
    const policy = new RetryPolicy({ maxAttempts: 3, backoff: noWait });
    const { fn, calls } = failing(2);
    await expect(policy.execute(fn)).resolves.toBe('ok after 3');
    expect(calls()).toBe(3);
  });

  it('stops after maxAttempts with the last error', async () => {
    const policy = new RetryPolicy({ maxAttempts: 2, backoff: noWait });
    const reasons: GiveUpEvent['reason'][] = [];
    policy.onGiveUp((e) => reasons.push(e.reason));
    const { fn, calls } = failing(5, () => transient('still down'));
    await expect(policy.execute(fn)).rejects.toThrow('still down');
    expect(calls()).toBe(2);
    expect(reasons).toEqual(['attempts']);
  });

  it('calls the per-call hooks as well as the policy-wide events', async () => {
    const policy = new RetryPolicy({ maxAttempts: 3, backoff: noWait, budget: false });
    const policyWide: string[] = [];
    policy.onRetry((e) => policyWide.push(`retry ${e.attempt}`));
    const perCall: string[] = [];
    const { fn } = failing(5, () => transient('down'));
    await expect(
      policy.execute(fn, {
        onRetry: (e) => perCall.push(`retry ${e.attempt} after ${e.delay} ms`),
        onGiveUp: (e) => perCall.push(`give up ${e.reason} at ${e.attempt}`),
      }),
    ).rejects.toThrow('down');
    expect(perCall).toEqual(['retry 1 after 0 ms', 'retry 2 after 0 ms', 'give up attempts at 3']);
    expect(policyWide).toEqual(['retry 1', 'retry 2']);
  });

  it('never retries what is not retryable', async () => {
    const policy = new RetryPolicy({ backoff: noWait });
    const reasons: string[] = [];
    policy.onGiveUp((e) => reasons.push(e.reason));
    const { fn, calls } = failing(5, () => new LifelineError('HTTP_STATUS', '404', { retryable: false }));
    await expect(policy.execute(fn)).rejects.toThrow('404');
    expect(calls()).toBe(1);
    expect(reasons).toEqual(['not-retryable']);
  });

  it('passes attempt number, signal and deadline to the function', async () => {
    const policy = new RetryPolicy({ backoff: noWait });
    const deadline = Deadline.after(10_000);
    const signal = new AbortController().signal;
    const seen: unknown[] = [];
    await policy.execute(
      (ctx) => {
        seen.push([ctx.attempt, ctx.signal === signal, ctx.deadline === deadline]);
        return ctx.attempt < 2 ? Promise.reject(transient()) : 'done';
      },
      { signal, deadline },
    );
    expect(seen).toEqual([[1, true, true], [2, true, true]]);
  });

  it('waits the backoff between attempts and reports it', async () => {
    const policy = new RetryPolicy({ maxAttempts: 3, backoff: new ExponentialBackoff({ base: 20, jitter: 'none' }) });
    const events: RetryEvent[] = [];
    policy.onRetry((e) => events.push(e));
    const { fn } = failing(2);
    const started = performance.now();
    await policy.execute(fn);
    expect(events.map((e) => [e.attempt, e.delay])).toEqual([[1, 20], [2, 40]]);
    expect(performance.now() - started).toBeGreaterThanOrEqual(55);
  });

  it('refuses with RETRY_BUDGET_EXHAUSTED at once when the budget is spent, keeping the cause', async () => {
    const clock = new ManualClock();
    const budget = new RetryBudget({ ratio: 0, minRetriesPerSecond: 0.1, windowMs: 10_000, clock }); // 1 retry
    const policy = new RetryPolicy({ maxAttempts: 5, backoff: noWait, budget });
    const first = failing(1);
    await expect(policy.execute(first.fn)).resolves.toBe('ok after 2');
    const second = failing(5, () => transient('down'));
    const error: unknown = await policy.execute(second.fn).catch((e: unknown) => e);
    expect(isLifelineError(error, 'RETRY_BUDGET_EXHAUSTED')).toBe(true);
    expect((error as Error).cause).toMatchObject({ message: 'down' });
    expect(second.calls()).toBe(1);
  });

  it('two policies can share one budget', async () => {
    const budget = new RetryBudget({ ratio: 0, minRetriesPerSecond: 0.1, windowMs: 10_000 });
    const a = new RetryPolicy({ backoff: noWait, budget });
    const b = new RetryPolicy({ backoff: noWait, budget });
    await a.execute(failing(1).fn);
    await expect(b.execute(failing(1).fn)).rejects.toMatchObject({ code: 'RETRY_BUDGET_EXHAUSTED' });
  });

  it('does not retry when the backoff plus a minimal attempt cannot fit in the deadline', async () => {
    const clock = new ManualClock();
    const policy = new RetryPolicy({
      backoff: new ExponentialBackoff({ base: 100, jitter: 'none' }),
      minAttemptTime: 50,
    });
    const reasons: string[] = [];
    policy.onGiveUp((e) => reasons.push(e.reason));
    const { fn, calls } = failing(5, () => transient('slow'));
    // 149 ms left: 100 ms backoff + 50 ms minimal attempt does not fit.
    await expect(policy.execute(fn, { deadline: Deadline.after(149, clock) })).rejects.toThrow('slow');
    expect(calls()).toBe(1);
    expect(reasons).toEqual(['deadline']);
    // Budget untouched by a retry that was not made.
    expect(policy.budget!.snapshot().retries).toBe(0);
  });

  it("honours a server's wait, jittered upwards, and gives up on one longer than the cap", async () => {
    const policy = new RetryPolicy({ backoff: noWait, maxServerDelay: 1_000, serverDelayJitter: 0.2, random: () => 0.5 });
    const delays: number[] = [];
    const reasons: string[] = [];
    policy.onRetry((e) => delays.push(e.delay));
    policy.onGiveUp((e) => reasons.push(e.reason));
    await policy.execute(failing(1, () => transient('429', 30)).fn);
    expect(delays).toEqual([33]); // 30 × (1 + 0.5 × 0.2)
    const long = failing(1, () => transient('wait a minute', 60_000));
    await expect(policy.execute(long.fn)).rejects.toMatchObject({ retryAfterMs: 60_000 });
    expect(long.calls()).toBe(1);
    expect(reasons).toEqual(['server-delay']);
  });

  it('holds the process open while waiting to retry, as the call\'s socket would, and lets go after', async () => {
    // The wait's own timer, found by where it was made (core's sleep), so other timers of
    // the test process cannot blur the count.
    const waits: Timeout[] = [];
    const hook = createHook({
      init(_id, type, _trigger, resource) {
        if (type === 'Timeout' && /core[\\/]src[\\/]sleep\.ts/.test(new Error().stack ?? '')) waits.push(resource as Timeout);
      },
    }).enable();
    try {
      const policy = new RetryPolicy({ maxAttempts: 2, backoff: new ExponentialBackoff({ base: 200, jitter: 'none' }), budget: false });
      const during: boolean[] = [];
      // onRetry fires as the 200 ms wait starts; 50 ms into it, is the wait's timer holding the process?
      const result = policy.execute(failing(1).fn, {
        onRetry: () => void setTimeout(() => during.push(...waits.map((timer) => timer.hasRef())), 50).unref(),
      });
      await expect(result).resolves.toBe('ok after 2');
      expect(during).toEqual([true]);
    } finally {
      hook.disable();
    }
  });

  it('an abort during the backoff ends the call at once with ABORTED', async () => {
    const policy = new RetryPolicy({ backoff: new ExponentialBackoff({ base: 5_000, jitter: 'none' }) });
    const controller = new AbortController();
    const started = performance.now();
    const pending = policy.execute(failing(5).fn, { signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    const error: unknown = await pending.catch((e: unknown) => e);
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(isLifelineError(error, 'ABORTED')).toBe(true);
  });

  it('rejects bad options naming them', () => {
    expect(() => new RetryPolicy({ maxAttempts: 0 })).toThrow(/`retry.maxAttempts` must be between 1 and 100, got 0/);
    expect(() => new RetryPolicy({ maxAttempts: 1.5 })).toThrow(/integer/);
    expect(() => new RetryPolicy({ minAttemptTime: -5 })).toThrow(/`retry.minAttemptTime`/);
    expect(() => new RetryPolicy({ shouldRetry: 'yes' as never })).toThrow(/`retry.shouldRetry` must be a function/);
    expect(() => new RetryPolicy({ backoff: {} as never })).toThrow(/`retry.backoff`/);
  });
});

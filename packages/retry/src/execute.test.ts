import fc from 'fast-check';
import { AbortError } from 'p-retry';
import { Deadline, isLifelineError, LifelineError, ManualClock } from '@lifeline/core';
import { describe, expect, it } from 'vitest';
import { DecorrelatedJitterBackoff, ExponentialBackoff } from './backoff.ts';
import { RetryBudget } from './retry-budget.ts';
import type { GiveUpEvent } from './retry-events.ts';
import { RetryPolicy } from './retry-policy.ts';

type Outcome = 'ok' | 'reset' | 'bug' | 'wait' | 'long-wait';

interface Scenario {
  outcomes: Outcome[];
  maxAttempts: number;
  /** Retries the budget allows in its window. */
  budgetRetries: number;
  remainingMs: number;
  decorrelated: boolean;
  backoffRandom: number[];
  jitterRandom: number[];
}

/** What one run did: every attempt's fate, in order, and how the call ended. */
interface Trace {
  steps: string[];
  result: string;
}

function failure(outcome: Exclude<Outcome, 'ok'>, attempt: number): Error {
  switch (outcome) {
    case 'reset':
      return Object.assign(new Error(`reset ${attempt}`), { code: 'ECONNRESET' });
    case 'bug':
      return new Error(`bug ${attempt}`);
    case 'wait': // a server asking for a short wait, within maxServerDelay
      return new LifelineError('HTTP_STATUS', `503 ${attempt}`, { retryable: true, retryAfterMs: 1 + (attempt % 3) });
    case 'long-wait': // longer than maxServerDelay
      return new LifelineError('HTTP_STATUS', `429 ${attempt}`, { retryable: true, retryAfterMs: 60_000 });
  }
}

/** The same seeded (cycled) numbers for both runs: the injected randomness. */
function cycle(values: number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length]!;
}

/** A policy, its budget and its deadline, made afresh from the scenario for each run. */
function setup(s: Scenario): { policy: RetryPolicy; deadline: Deadline } {
  const clock = new ManualClock();
  const backoffRandom = cycle(s.backoffRandom);
  return {
    policy: new RetryPolicy({
      maxAttempts: s.maxAttempts,
      backoff: s.decorrelated
        ? new DecorrelatedJitterBackoff({ base: 1, cap: 4, random: backoffRandom })
        : new ExponentialBackoff({ base: 1, cap: 4, random: backoffRandom }),
      budget: new RetryBudget({ ratio: 0, windowMs: 10_000, minRetriesPerSecond: s.budgetRetries / 10, clock }),
      minAttemptTime: 5,
      maxServerDelay: 20,
      serverDelayJitter: 0.5,
      random: cycle(s.jitterRandom),
    }),
    // A manual clock: the time left is the same in both runs, however long the real waits take.
    deadline: Deadline.after(s.remainingMs, clock),
  };
}

async function throughExecute(s: Scenario): Promise<Trace> {
  const { policy, deadline } = setup(s);
  const steps: string[] = [];
  const fn = ({ attempt }: { attempt: number }): Promise<string> => {
    const outcome = s.outcomes[attempt - 1] ?? 'ok';
    return outcome === 'ok' ? Promise.resolve(`ok ${attempt}`) : Promise.reject(failure(outcome, attempt));
  };
  const result = await policy
    .execute(fn, {
      deadline,
      onRetry: ({ attempt, delay }) => steps.push(`${attempt}: retry after ${delay}`),
      onGiveUp: ({ attempt, reason }: GiveUpEvent) => steps.push(`${attempt}: stop ${reason}`),
    })
    .catch((error: unknown) => (isLifelineError(error, 'RETRY_BUDGET_EXHAUSTED') ? error.code : (error as Error).message));
  return { steps, result };
}

function throughDecide(s: Scenario): Trace {
  const { policy, deadline } = setup(s);
  const steps: string[] = [];
  policy.recordCall();
  let previousDelayMs = 0;
  for (let attempt = 1; ; attempt++) {
    const outcome = s.outcomes[attempt - 1] ?? 'ok';
    if (outcome === 'ok') return { steps, result: `ok ${attempt}` };
    const error = failure(outcome, attempt);
    const decision = policy.decide({ attempt, error, remainingMs: deadline.remaining(), previousDelayMs });
    if (decision.retry) {
      steps.push(`${attempt}: retry after ${decision.delayMs}`);
      previousDelayMs = decision.delayMs;
      continue;
    }
    steps.push(`${attempt}: stop ${decision.reason}`);
    return { steps, result: decision.reason === 'budget' ? 'RETRY_BUDGET_EXHAUSTED' : error.message };
  }
}

// Two decimals, away from 0: a draw near 0 would hide whether the previous wait was passed on.
const unit = fc.integer({ min: 10, max: 99 }).map((n) => n / 100);
const scenario: fc.Arbitrary<Scenario> = fc.record({
  outcomes: fc.array(fc.constantFrom<Outcome>('ok', 'reset', 'reset', 'bug', 'wait', 'long-wait'), { minLength: 1, maxLength: 6 }),
  maxAttempts: fc.integer({ min: 1, max: 5 }),
  budgetRetries: fc.integer({ min: 0, max: 4 }),
  remainingMs: fc.oneof(fc.integer({ min: 0, max: 12 }), fc.constant(Infinity), fc.constant(Infinity)),
  decorrelated: fc.boolean(),
  backoffRandom: fc.array(unit, { minLength: 1, maxLength: 6 }),
  jitterRandom: fc.array(unit, { minLength: 1, maxLength: 6 }),
});

const known: Scenario = {
  outcomes: [],
  maxAttempts: 3,
  budgetRetries: 4,
  remainingMs: Infinity,
  decorrelated: false,
  backoffRandom: [0.5, 0.7],
  jitterRandom: [0.3],
};

describe('RetryPolicy.execute is driven by decide()', () => {
  it('the same scenario through execute() and through a hand-written decide() loop: same attempts, waits and stop', async () => {
    const kinds = new Set<string>();
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        const byExecute = await throughExecute(s);
        expect(byExecute).toEqual(throughDecide(s));
        for (const step of byExecute.steps) kinds.add(step.replace(/^\d+: /, '').replace(/ after .*/, ''));
        // Decorrelated jitter grows from the previous wait: a second retry shows it was passed on.
        if (s.decorrelated && byExecute.steps[1]?.startsWith('2: retry')) kinds.add('second decorrelated retry');
      }),
      {
        numRuns: 200,
        // Always run, so that every way to go on or end is reached whatever the random cases are.
        examples: [
          [{ ...known, outcomes: ['reset', 'wait', 'reset'], decorrelated: true }], // retry, retry, attempts
          [{ ...known, outcomes: ['reset'], budgetRetries: 0 }], // budget
          [{ ...known, outcomes: ['reset'], remainingMs: 5 }], // deadline: ≥ 1 ms wait + 5 ms attempt
          [{ ...known, outcomes: ['bug'] }], // not-retryable
          [{ ...known, outcomes: ['long-wait'] }], // server-delay
        ],
      },
    );
    // The scenarios reached every way a call can go on or end.
    expect([...kinds].sort()).toEqual([
      'retry',
      'second decorrelated retry',
      'stop attempts',
      'stop budget',
      'stop deadline',
      'stop not-retryable',
      'stop server-delay',
    ]);
  });

  it('retries a TypeError that the predicate calls retryable (p-retry alone would not)', async () => {
    const policy = new RetryPolicy({ backoff: new ExponentialBackoff({ base: 0 }), shouldRetry: () => true, budget: false });
    let calls = 0;
    const result = await policy.execute(() => (++calls < 3 ? Promise.reject(new TypeError('not a network error')) : 'done'));
    expect([result, calls]).toEqual(['done', 3]);
  });

  it('rejects with exactly what the function threw, a non-Error included', async () => {
    const policy = new RetryPolicy({ budget: false });
    const reasons: string[] = [];
    policy.onGiveUp((e) => reasons.push(e.reason));
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- what a careless function does, on purpose.
    await expect(policy.execute(() => Promise.reject('plain string'))).rejects.toBe('plain string');
    const thrown = { not: 'an error' };
    await expect(
      policy.execute(() => {
        // eslint-disable-next-line @typescript-eslint/only-throw-error -- a non-Error thrown on purpose.
        throw thrown;
      }),
    ).rejects.toBe(thrown);
    expect(reasons).toEqual(['not-retryable', 'not-retryable']);
  });

  it("p-retry's AbortError still means stop now: rejected unwrapped, no decision taken", async () => {
    const policy = new RetryPolicy({ budget: false });
    const reasons: string[] = [];
    policy.onGiveUp((e) => reasons.push(e.reason));
    const cause = Object.assign(new Error('reset, but give up'), { code: 'ECONNRESET' });
    let calls = 0;
    await expect(policy.execute(() => (calls++, Promise.reject(new AbortError(cause))))).rejects.toBe(cause);
    expect([calls, reasons]).toEqual([1, []]);
  });

  it('a signal aborted while an attempt runs ends the call with ABORTED and no give-up', async () => {
    const policy = new RetryPolicy({ budget: false });
    const reasons: string[] = [];
    policy.onGiveUp((e) => reasons.push(e.reason));
    const controller = new AbortController();
    const error: unknown = await policy
      .execute(() => {
        controller.abort();
        return Promise.reject(Object.assign(new Error('reset'), { code: 'ECONNRESET' }));
      }, { signal: controller.signal })
      .catch((e: unknown) => e);
    expect(isLifelineError(error, 'ABORTED')).toBe(true);
    expect(reasons).toEqual([]);
  });
});

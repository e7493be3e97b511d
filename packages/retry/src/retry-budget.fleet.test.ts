import { seededRandom, type Clock } from '@lifeline/core';
import { describe, expect, it } from 'vitest';
import { ExponentialBackoff } from './backoff.ts';
import type { RetryBudgetOptions } from './retry-budget.ts';
import { RetryPolicy } from './retry-policy.ts';

interface Fleet {
  instances: number;
  /** Every attempt sent in [downFrom, downTo) fails. */
  downFrom: number;
  downTo: number;
  /** Outside the outage, the share of attempts that fail at random. */
  failureRate: number;
  /** Simulated run length, ms; requests start until `until - 5_000` so their retries end inside it. */
  until: number;
  budget: RetryBudgetOptions;
}

interface Run {
  /** First attempts and all attempts sent while the dependency was down, and in its first 5 s. */
  downRequests: number;
  downAttempts: number;
  firstRequests: number;
  firstAttempts: number;
  /** Requests whose first attempt failed outside the outage, and those a retry rescued. */
  failed: number;
  rescued: number;
}

interface Call {
  policy: RetryPolicy;
  start: number;
  attempt: number;
  previousDelayMs: number;
  firstFailed: boolean;
}

/**
 * A fleet of instances, each with its own RetryPolicy and RetryBudget (defaults but for the
 * options given), sending 10 requests a second to one dependency, in simulated time: 1 ms
 * steps, each instance's requests 100 ms apart from a random phase, answers at once, a
 * failed attempt decided by the real decide() and its retry sent after the real backoff.
 */
function simulate(fleet: Fleet, seed = 1): Run {
  const random = seededRandom(seed);
  let now = 0;
  const clock: Clock = { now: () => now };
  const byPhase: RetryPolicy[][] = Array.from({ length: 100 }, () => []);
  for (let i = 0; i < fleet.instances; i++) {
    const policy = new RetryPolicy({ maxAttempts: 3, backoff: new ExponentialBackoff({ random }), random, budget: { ...fleet.budget, clock } });
    byPhase[Math.floor(random() * 100)]!.push(policy);
  }
  const due: (Call[] | undefined)[] = [];
  const run: Run = { downRequests: 0, downAttempts: 0, firstRequests: 0, firstAttempts: 0, failed: 0, rescued: 0 };
  const input = { attempt: 1, status: 0, remainingMs: 0, previousDelayMs: 0 };
  const send = (call: Call): void => {
    const down = now >= fleet.downFrom && now < fleet.downTo;
    if (down) {
      run.downAttempts++;
      if (call.attempt === 1) run.downRequests++;
      if (now < fleet.downFrom + 5_000) {
        run.firstAttempts++;
        if (call.attempt === 1) run.firstRequests++;
      }
    }
    const failed = down || random() < fleet.failureRate;
    if (call.attempt === 1 && failed && !down) {
      call.firstFailed = true;
      run.failed++;
    }
    input.attempt = call.attempt;
    input.status = failed ? 503 : 200;
    input.remainingMs = 10_000 - (now - call.start);
    input.previousDelayMs = call.previousDelayMs;
    const decision = call.policy.decide(input);
    if (!failed) {
      if (call.firstFailed) run.rescued++;
      return;
    }
    if (!decision.retry) return;
    call.attempt++;
    call.previousDelayMs = decision.delayMs;
    const at = now + Math.max(1, Math.ceil(decision.delayMs));
    (due[at] ??= []).push(call);
  };
  for (; now < fleet.until; now++) {
    if (now < fleet.until - 5_000) {
      for (const policy of byPhase[now % 100]!) {
        policy.recordCall();
        send({ policy, start: now, attempt: 1, previousDelayMs: 0, firstFailed: false });
      }
    }
    const retries = due[now];
    if (retries !== undefined) {
      due[now] = undefined;
      for (const call of retries) send(call);
    }
  }
  return run;
}

const DEFAULTS: RetryBudgetOptions = {};
/** The budget as it was before outcomes were counted: the window alone (20 % + 10/s over 10 s). */
const WINDOW_ONLY: RetryBudgetOptions = { maxTokens: Infinity };

describe('RetryBudget across a fleet (100 instances × 10 requests/s, simulated time, seeded)', () => {
  const outage = { instances: 100, downFrom: 10_000, downTo: 40_000, failureRate: 0, until: 50_000 };

  it('with the dependency down for 30 s, retries add at most 10 %, and fewer than 5 per instance in all', () => {
    const run = simulate({ ...outage, budget: DEFAULTS });
    expect(run.downRequests).toBe(30_000);
    expect(run.downAttempts / run.downRequests).toBeLessThanOrEqual(1.1);
    expect(run.firstAttempts / run.firstRequests).toBeLessThanOrEqual(1.1);
    expect(run.downAttempts - run.downRequests).toBeLessThan(100 * 5);
    expect(run.downAttempts - run.downRequests).toBeGreaterThan(0); // the first failures were retried
  });

  it('the window alone, its 10 retries/s per instance, doubles the load instead', () => {
    const run = simulate({ ...outage, budget: WINDOW_ONLY });
    expect(run.downAttempts / run.downRequests).toBeGreaterThan(1.9);
  });

  it('with 1 % of attempts failing at random, retries rescue at least 99 % of the failed requests', () => {
    const run = simulate({ instances: 100, downFrom: Infinity, downTo: Infinity, failureRate: 0.01, until: 45_000, budget: DEFAULTS });
    expect(run.failed).toBeGreaterThan(300); // 40 000 requests × 1 %
    expect(run.rescued / run.failed).toBeGreaterThanOrEqual(0.99);
  });

  it('is deterministic: the same seed, the same run', () => {
    const a = simulate({ ...outage, instances: 20, budget: DEFAULTS }, 7);
    const b = simulate({ ...outage, instances: 20, budget: DEFAULTS }, 7);
    expect(a).toEqual(b);
  });
});

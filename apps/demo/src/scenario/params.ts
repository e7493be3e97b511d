import type { ScenarioParams } from './types.ts';

/**
 * The full run: long enough that a breaker's break (5 s, doubling while the fault lasts) and
 * the outbox's backoff play out inside the recovery phase, short enough that `all` (eight
 * stacks) takes a few minutes.
 */
export const FULL: ScenarioParams = {
  profile: 'full',
  rate: 20,
  callerTimeoutMs: 5_000,
  warmupMs: 8_000,
  faultMs: 15_000,
  recoveryMs: 20_000,
  settleMaxMs: 30_000,
  slowMs: 8_000,
  lostPercent: 50,
  chaosSeed: 1,
  metastable: { workers: 2, workMs: 100, load: 0.7, triggerWorkers: 1, naiveAttemptTimeoutMs: 1_000 },
};

/**
 * The CI run: every phase cut to a few seconds so that `all` stays near three minutes on two
 * cores. The fault still outlasts the caller's timeout, so the cascade shows; recovery times
 * are often "not within the run" here, which is why CI prints them and asserts none.
 */
export const SHORT: ScenarioParams = {
  ...FULL,
  profile: 'short',
  rate: 15,
  warmupMs: 2_000,
  faultMs: 6_000,
  recoveryMs: 5_000,
  settleMaxMs: 8_000,
};

export {
  type Backoff,
  ExponentialBackoff,
  type ExponentialBackoffOptions,
  DecorrelatedJitterBackoff,
  type DecorrelatedJitterBackoffOptions,
} from './backoff.ts';
export { RetryBudget, type RetryBudgetOptions, type RetryBudgetSnapshot } from './retry-budget.ts';
export { RetryPolicy, type RetryPolicyOptions } from './retry-policy.ts';
export {
  RetryDecision,
  requestedWaitMs,
  type RetryInput,
  type StopReason,
  type GiveUpReason,
} from './retry-decision.ts';
export { type RetryEvent, type GiveUpEvent, type RetryExecuteOptions } from './retry-events.ts';
export { isRetryable, isTransientStatus, isTransientNetworkError, isConnectFailure, errorCodeOf } from './classify.ts';
export { parseRetryAfter } from './retry-after.ts';
export {
  parseRateLimit,
  parseRateLimitPolicy,
  rateLimitWaitMs,
  type RateLimitPolicy,
  type RateLimitState,
} from './rate-limit.ts';

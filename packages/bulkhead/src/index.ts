export {
  Bulkhead,
  BulkheadRejectedError,
  type BulkheadOptions,
  type BulkheadSnapshot,
  type BulkheadRejection,
  type BulkheadRejectReason,
} from './bulkhead.ts';
export {
  AdaptiveLimiter,
  type AdaptiveLimiterOptions,
  type AdaptiveLimiterSnapshot,
} from './adaptive-limiter.ts';
export { isLimiter, type LeaseOutcome, type Limiter, type LimiterSnapshot } from './limiter.ts';
export { RateLimiter, type RateLimiterOptions, type RateLimiterSnapshot } from './rate-limiter.ts';

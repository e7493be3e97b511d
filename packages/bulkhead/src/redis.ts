/**
 * `@lifeline/bulkhead/redis`: the fleet-wide bulkhead and rate limit over Redis. A separate
 * entry point so that `ioredis`, an optional peer dependency, is needed only by those who import it.
 */
export { FleetBulkhead, type FleetBulkheadOptions, type FleetBulkheadSnapshot } from './fleet-bulkhead.ts';
export { FleetRateLimiter, type FleetRateLimiterOptions } from './rate-limiter.ts';

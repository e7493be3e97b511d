export {
  Bulkhead,
  BulkheadRejectedError,
  type BulkheadOptions,
  type BulkheadSnapshot,
  type BulkheadRejection,
  type BulkheadRejectReason,
} from './bulkhead.ts';
export { isLimiter, type Limiter, type LimiterSnapshot } from './limiter.ts';

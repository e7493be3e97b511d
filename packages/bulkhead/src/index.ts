export {
  Bulkhead,
  BulkheadRejectedError,
  type BulkheadOptions,
  type BulkheadSnapshot,
  type BulkheadRejection,
  type BulkheadRejectReason,
} from './bulkhead.ts';

export {
  Bulkhead,
  BulkheadRejectedError,
  type BulkheadOptions,
  type BulkheadSnapshot,
  type BulkheadRejection,
  type BulkheadRejectReason,
} from './bulkhead.ts';
export { FleetBulkhead, type FleetBulkheadOptions, type FleetBulkheadSnapshot } from './fleet-bulkhead.ts';

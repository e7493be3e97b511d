import { channel } from 'node:diagnostics_channel';

/**
 * `lifeline:bulkhead:reject`: every call a {@link Bulkhead} or `FleetBulkhead` turns away,
 * published as its `BulkheadRejection` (`{ name, reason, inFlight, queued }`). Made once, here,
 * so that both publish on the same channel; a rejection builds its message only when the
 * channel has subscribers (or the limiter has `onRejected` listeners).
 *
 * @internal
 */
export const rejectChannel = channel('lifeline:bulkhead:reject');

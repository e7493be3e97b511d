import { channel } from 'node:diagnostics_channel';

/**
 * What `lifeline:discovery:eject` and `lifeline:discovery:return` publish.
 *
 * @example
 * import { subscribe } from 'node:diagnostics_channel';
 * subscribe('lifeline:discovery:eject', (message) => {
 *   const { service, endpoint, reason } = message as EndpointTransition;
 *   console.warn(`${service}: ${endpoint} ejected (${reason})`);
 * });
 */
export interface EndpointTransition {
  service: string;
  /** `host:port` (IPv6 in brackets). */
  endpoint: string;
  /**
   * Ejected: why its breaker opened — `consecutive-failures`, `failure-ratio`, `probe-failed`
   * (a half-open probe failed), `forced-open` (an operator). Returned: `break-elapsed` (back on
   * probation: half-open probes decide), `health-check` (back on probation before its break
   * ended: its health route answered 2xx), `reset` or `disabled` (an operator), `removed` (the
   * resolver no longer lists it), `ejection-cap` (fewer endpoints: the cap allows fewer ejections).
   */
  reason: string;
}

/**
 * `lifeline:discovery:eject`: an endpoint was taken out of rotation. Published only when the
 * channel has subscribers.
 *
 * @internal
 */
export const ejectChannel = channel('lifeline:discovery:eject');

/**
 * `lifeline:discovery:return`: an ejected endpoint is back in rotation (or gone). Published
 * only when the channel has subscribers.
 *
 * @internal
 */
export const returnChannel = channel('lifeline:discovery:return');

import { channel } from 'node:diagnostics_channel';

/**
 * `lifeline:breaker:state`: every transition of a `CircuitBreaker` or of an opossum breaker
 * run through `fromOpossum`, published as its `StateChange` (`{ name, from, to, reason,
 * snapshot }`). Made once, here, so both publish on the same channel; a transition builds
 * its message only when the channel has subscribers (or the breaker has listeners).
 *
 * @internal
 */
export const stateChannel = channel('lifeline:breaker:state');

import { channel } from 'node:diagnostics_channel';

/**
 * What `lifeline:client:attempt` publishes when an attempt ends: at its response headers,
 * or when it failed before them.
 *
 * @example
 * import { subscribe } from 'node:diagnostics_channel';
 * subscribe('lifeline:client:attempt', (message) => {
 *   const { service, attempt, status, error, durationMs } = message as AttemptMessage;
 *   console.log(service, attempt, status || error, durationMs);
 * });
 */
export interface AttemptMessage {
  service: string;
  method: string;
  /** The origin the attempt went to (with discovery, the picked endpoint's). */
  origin: string;
  path: string;
  /** 1 for the first attempt. */
  attempt: number;
  /** The response status; 0 when the attempt failed before one. */
  status: number;
  /** Why the attempt failed before a response (a Lifeline error: `CONNECT`, `ATTEMPT_TIMEOUT`…). */
  error: unknown;
  /** Time to response headers, or to the failure, ms. */
  durationMs: number;
}

/** What `lifeline:client:retry` publishes when a retry is decided. */
export interface RetryMessage {
  service: string;
  /** The attempt that failed. */
  attempt: number;
  /** The wait before the next attempt, ms. */
  delayMs: number;
  /** The retryable status, or 0 when the attempt failed without a response. */
  status: number;
  error: unknown;
}

/** What `lifeline:client:refused` publishes when an attempt is refused before it is sent. */
export interface RefusedMessage {
  service: string;
  /** `CIRCUIT_OPEN` (an open breaker, or every endpoint failing) or `NO_ENDPOINTS`. */
  error: unknown;
}

/** `lifeline:client:attempt`: an attempt ended ({@link AttemptMessage}). Published only when subscribed. @internal */
export const attemptChannel = channel('lifeline:client:attempt');
/** `lifeline:client:retry`: a retry was decided ({@link RetryMessage}). Published only when subscribed. @internal */
export const retryChannel = channel('lifeline:client:retry');
/** `lifeline:client:refused`: the breaker or the pool refused an attempt ({@link RefusedMessage}). @internal */
export const refusedChannel = channel('lifeline:client:refused');

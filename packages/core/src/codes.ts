/**
 * Every error code Lifeline emits. Codes are stable API: documented in docs/errors.md,
 * never renamed, never reused for a different meaning.
 */
export const ErrorCode = {
  /** The call's total deadline passed before it completed. */
  DEADLINE_EXCEEDED: 'DEADLINE_EXCEEDED',
  /** One attempt took longer than the per-attempt timeout. */
  ATTEMPT_TIMEOUT: 'ATTEMPT_TIMEOUT',
  /** A circuit breaker is open and fails calls fast. */
  CIRCUIT_OPEN: 'CIRCUIT_OPEN',
  /** A bulkhead had no slot and no room (or time) to wait for one. */
  BULKHEAD_REJECTED: 'BULKHEAD_REJECTED',
  /** A retry was warranted but the retry budget had no tokens left. */
  RETRY_BUDGET_EXHAUSTED: 'RETRY_BUDGET_EXHAUSTED',
  /** Service discovery has no endpoint to send the call to. */
  NO_ENDPOINTS: 'NO_ENDPOINTS',
  /** The server answered with an error status after the policy was applied. */
  HTTP_STATUS: 'HTTP_STATUS',
  /** No connection could be made; the request was never sent. */
  CONNECT: 'CONNECT',
  /** The connection failed after the request may have been sent (reset, closed early). */
  SOCKET: 'SOCKET',
  /**
   * Client-side adaptive throttling rejected an attempt locally: the dependency has been
   * accepting less than 1/K of recent attempts, so this one was never sent.
   */
  THROTTLED: 'THROTTLED',
  /** The caller aborted the call through its AbortSignal. */
  ABORTED: 'ABORTED',
  /** A request header cannot be sent: a CR, LF, NUL or other control character in its value, or a malformed name. */
  INVALID_HEADER: 'INVALID_HEADER',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

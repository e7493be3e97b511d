import type { Event, Policy } from '@lifeline/core';

/** Where a breaker stands. `forced-open` and `disabled` are operator overrides. */
export type BreakerState = 'closed' | 'open' | 'half-open' | 'forced-open' | 'disabled';

/** Why a breaker moved. */
export type TransitionReason =
  | 'failure-ratio'
  | 'consecutive-failures'
  | 'break-elapsed'
  | 'probe-failed'
  | 'probes-succeeded'
  | 'forced-open'
  | 'disabled'
  | 'reset';

/** A breaker's state as plain JSON. */
export interface BreakerSnapshot {
  name: string;
  state: BreakerState;
  /** Calls and failures in the current window. */
  calls: number;
  failures: number;
  consecutiveFailures: number;
  /** While open: ms until probes are let through. */
  halfOpenInMs: number | undefined;
  /** The break the breaker will take (or is taking) when open, ms. */
  breakDuration: number;
  probesInFlight: number;
  probeSuccesses: number;
}

/** One transition: the `onStateChange` event, also published on `lifeline:breaker:state`. */
export interface StateChange {
  name: string;
  from: BreakerState;
  to: BreakerState;
  reason: TransitionReason;
  snapshot: BreakerSnapshot;
}

/**
 * The seam a client puts around each attempt: something that admits a call or fails it
 * fast with `CIRCUIT_OPEN`, and learns from how it went. Lifeline's own `CircuitBreaker`
 * implements it, and so does the adapter that runs an existing opossum breaker
 * (`fromOpossum` in `@lifeline/breaker/opossum`).
 *
 * The outcome is reported apart from the admission because an HTTP attempt is not one
 * promise: its verdict comes at the response headers. `acquire()` returns a ticket (an
 * integer, never negative, so a caller may keep -1 for "reported"); report it exactly once,
 * with `success`, `failure` or `cancel`.
 *
 * @example
 * function attempt(breaker: Breaker, send: () => Promise<number>): Promise<number> {
 *   const ticket = breaker.acquire(); // throws CIRCUIT_OPEN when open
 *   const started = performance.now();
 *   return send().then(
 *     (status) => {
 *       if (status >= 500) breaker.failure(ticket, performance.now() - started, new Error(`HTTP ${status}`));
 *       else breaker.success(ticket, performance.now() - started);
 *       return status;
 *     },
 *     (error: unknown) => {
 *       breaker.failure(ticket, performance.now() - started, error);
 *       throw error;
 *     },
 *   );
 * }
 */
export interface Breaker extends Policy {
  /** Names the breaker in errors, events and snapshots. */
  readonly name: string;
  readonly state: BreakerState;
  /** True when `acquire()` would admit a call now (without taking a probe). */
  readonly allowsCalls: boolean;
  /** Admits a call or throws `CIRCUIT_OPEN`; returns the ticket to report its outcome with. */
  acquire(): number;
  /** The call succeeded (in `durationMs`). */
  success(ticket: number, durationMs?: number): void;
  /** The call failed with `error` (the breaker may decide it does not count). */
  failure(ticket: number, durationMs?: number, error?: unknown): void;
  /** The caller gave up before the outcome was known. */
  cancel(ticket: number): void;
  /** Fires on every transition. */
  readonly onStateChange: Event<StateChange>;
  snapshot(): BreakerSnapshot;
}

/** Whether `value` has the shape of a {@link Breaker} (checked once, at construction). */
export function isBreaker(value: unknown): value is Breaker {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Record<string, unknown>;
  return (
    typeof candidate['acquire'] === 'function' &&
    typeof candidate['success'] === 'function' &&
    typeof candidate['failure'] === 'function' &&
    typeof candidate['cancel'] === 'function' &&
    typeof candidate['snapshot'] === 'function' &&
    typeof candidate['execute'] === 'function' &&
    typeof candidate['onStateChange'] === 'function' &&
    typeof candidate['name'] === 'string' &&
    typeof candidate['state'] === 'string'
  );
}

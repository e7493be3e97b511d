import type { Event, ExecuteOptions, Policy } from '@lifeline/core';
import type { BulkheadRejection } from './bulkhead.ts';

/** How a slot's work ended: it completed (`success`), or it timed out or was refused downstream (`dropped`). */
export type LeaseOutcome = 'success' | 'dropped';

/** What every {@link Limiter} reports: plain JSON, for dashboards and `/admin/resilience`. */
export interface LimiterSnapshot {
  /** Calls holding a slot (on this instance). */
  readonly inFlight: number;
  /** Calls waiting for a slot (on this instance). */
  readonly queued: number;
  readonly maxConcurrent: number;
}

/**
 * The seam a client puts around whole calls to a dependency: something that admits a call,
 * makes it wait, or turns it away with `BULKHEAD_REJECTED`. `Bulkhead` (a local semaphore),
 * `FleetBulkhead` (one limit across a fleet over Redis), `AdaptiveLimiter` (a limit that
 * follows latency) and `RateLimiter` / `FleetRateLimiter` (N calls per interval, for
 * quota'd dependencies) implement it.
 *
 * The hot path is `tryAcquire()` — a synchronous slot when one is free — and `acquire()` only
 * when it returns `false`; every successful acquire is paired with one `release()`.
 *
 * @example
 * async function guarded<T>(limiter: Limiter, fn: () => Promise<T>): Promise<T> {
 *   if (!limiter.tryAcquire()) await limiter.acquire({ deadline: Deadline.after(1_000) });
 *   try {
 *     return await fn();
 *   } finally {
 *     limiter.release();
 *   }
 * }
 */
export interface Limiter extends Policy {
  /** Calls holding a slot (on this instance). */
  readonly inFlight: number;
  /** Calls waiting for a slot (on this instance). */
  readonly queued: number;
  /** Takes a slot if one can be had now without waiting or I/O; `false` means "call `acquire()`". */
  tryAcquire(): boolean;
  /** Waits for a slot (bounded by the deadline, the signal and the limiter's own maximum), or rejects with `BULKHEAD_REJECTED`. */
  acquire(options?: ExecuteOptions): Promise<void>;
  /**
   * Gives back one slot taken by `tryAcquire()` or `acquire()`. `dropped` says the work timed
   * out or was refused downstream (an adaptive limit shrinks on it); a fixed limit ignores it.
   */
  release(outcome?: LeaseOutcome): void;
  /** Fires on every rejection, with its reason. */
  readonly onRejected: Event<BulkheadRejection>;
  snapshot(): LimiterSnapshot;
  /** Rejects waiters with reason `closed` and refuses new calls. */
  close(): void;
}

/** Whether `value` has the shape of a {@link Limiter} (checked once, at construction). */
export function isLimiter(value: unknown): value is Limiter {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Record<string, unknown>;
  return (
    typeof candidate['tryAcquire'] === 'function' &&
    typeof candidate['acquire'] === 'function' &&
    typeof candidate['release'] === 'function' &&
    typeof candidate['snapshot'] === 'function' &&
    typeof candidate['close'] === 'function' &&
    typeof candidate['execute'] === 'function' &&
    typeof candidate['onRejected'] === 'function'
  );
}

import type { ExecuteOptions } from '@lifeline/core';
import type { GiveUpReason } from './retry-decision.ts';

/**
 * A retry was decided: the attempt that failed and the wait before the next.
 *
 * @example policy.onRetry(({ attempt, delay }) => log.debug({ attempt, delay }, 'retrying'));
 */
export interface RetryEvent {
  /** The attempt that failed. */
  attempt: number;
  /** The wait before the next attempt, ms. */
  delay: number;
  /** Why the attempt failed, when it got no response (or through execute(), whatever `fn` threw). */
  error: unknown;
  /** The response status, when the attempt got a retryable response (decided from a status). */
  status?: number;
}

/**
 * A failed attempt is final, and why no retry followed.
 *
 * @example policy.onGiveUp(({ reason }) => { if (reason === 'budget') budgetExhausted.add(1); });
 */
export interface GiveUpEvent {
  reason: GiveUpReason;
  attempt: number;
  /** Why the attempt failed, when it got no response (or through execute(), whatever `fn` threw). */
  error: unknown;
  /** The response status, when the attempt got an error response (decided from a status). */
  status?: number;
}

/**
 * {@link RetryPolicy.execute}'s options: the call's signal and deadline, and hooks for this call alone.
 *
 * @example
 * await policy.execute(() => db.query(sql), { deadline, onRetry: ({ attempt }) => span.addEvent('retry', { attempt }) });
 */
export interface RetryExecuteOptions extends ExecuteOptions {
  /** Called before this call's retry waits, after the policy's `onRetry`. */
  onRetry?(event: RetryEvent): void;
  /** Called when this call's failed attempt is final, after the policy's `onGiveUp`. */
  onGiveUp?(event: GiveUpEvent): void;
}

import { isLifelineError, LifelineError, withoutStack } from './errors.ts';

/**
 * Waits `ms` milliseconds, or rejects with an `ABORTED` error as soon as `signal` aborts.
 * The abort listener is removed when the wait ends either way.
 *
 * The timer is unref'd unless `options.ref` is true (the opposite of `node:timers/promises`):
 * housekeeping waits (a re-registration backoff) must never hold a process open, while a
 * wait that is part of work in flight (a call's retry backoff, a Retry-After wait, a queued
 * call's poll) passes `{ ref: true }` so the process stays up until the work is done, as it
 * would for that work's socket.
 *
 * @example await sleep(backoff, signal, { ref: true }); // a call waiting to retry
 */
export function sleep(ms: number, signal?: AbortSignal, options?: { readonly ref?: boolean }): Promise<void> {
  if (signal?.aborted) return Promise.reject(abortError(signal));
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortError(signal!));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    if (options?.ref !== true) timer.unref();
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * The `ABORTED` error for an aborted signal (its reason is kept as the cause). Built without
 * a stack: an abort is an expected outcome (a caller gave up, a hedge lost), and the reason
 * it keeps says where it came from.
 *
 * @example if (signal.aborted) throw abortError(signal);
 */
export function abortError(signal: AbortSignal): LifelineError {
  const reason: unknown = signal.reason;
  // A reason that already is a Lifeline error (a deadline's signal) says it best.
  if (isLifelineError(reason)) return reason;
  return withoutStack(() => new LifelineError('ABORTED', 'the call was aborted', { cause: reason, retryable: false }));
}

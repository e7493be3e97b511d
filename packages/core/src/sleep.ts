import { isLifelineError, LifelineError } from './errors.ts';

/**
 * Waits `ms` milliseconds on an unref'd timer, or rejects with an `ABORTED` error as soon as
 * `signal` aborts. The abort listener is removed when the wait ends either way.
 *
 * @example await sleep(backoff, signal);
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
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
    timer.unref();
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** The `ABORTED` error for an aborted signal (its reason is kept as the cause). */
export function abortError(signal: AbortSignal): LifelineError {
  const reason: unknown = signal.reason;
  // A reason that already is a Lifeline error (a deadline's signal) says it best.
  if (isLifelineError(reason)) return reason;
  return new LifelineError('ABORTED', 'the call was aborted', { cause: reason, retryable: false });
}

import type { Deadline } from '@lifeline/core';

/**
 * Waits for `promise`, at most until `deadline` or `signal`; never rejects. Whatever ends
 * the wait, the timer and the abort listener are gone when it returns.
 *
 * @internal
 */
export async function boundedWait(promise: Promise<void>, deadline: Deadline | undefined, signal: AbortSignal | undefined): Promise<void> {
  const remaining = deadline === undefined ? Infinity : deadline.remaining();
  if (remaining <= 0 || signal?.aborted === true) return;
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  await Promise.race([
    promise,
    new Promise<void>((resolve) => {
      if (remaining !== Infinity) timer = setTimeout(resolve, remaining);
      onAbort = resolve;
      signal?.addEventListener('abort', onAbort, { once: true });
    }),
  ]);
  clearTimeout(timer);
  if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort);
}

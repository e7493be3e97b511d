import { createHook } from 'node:async_hooks';
import { describe, expect, it } from 'vitest';
import { isLifelineError } from './errors.ts';
import { sleep } from './sleep.ts';

type Timeout = ReturnType<typeof setTimeout>;

/**
 * The timers `sleep` makes while `fn` runs, and whether each still holds the process: alive
 * (not yet fired or cleared, as async hooks report) and ref'd. Only sleep's own timers are
 * looked at, so the test process's other timers cannot blur the answer.
 */
async function watchSleepTimers<T>(fn: (holding: () => boolean[]) => Promise<T>): Promise<T> {
  const live = new Map<number, Timeout>();
  const hook = createHook({
    init(id, type, _trigger, resource) {
      if (type === 'Timeout' && /core[\\/]src[\\/]sleep\.ts/.test(new Error().stack ?? '')) live.set(id, resource as Timeout);
    },
    destroy(id) {
      live.delete(id);
    },
  }).enable();
  try {
    return await fn(() => [...live.values()].map((timer) => timer.hasRef()));
  } finally {
    hook.disable();
  }
}

/** One turn of the event loop: destroy hooks run asynchronously. */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('sleep', () => {
  it('waits on an unref\'d timer by default: housekeeping never holds a process open', async () => {
    await watchSleepTimers(async (holding) => {
      const wait = sleep(20);
      expect(holding()).toEqual([false]);
      await wait;
    });
  });

  it('with ref: true holds the process open while waiting, and not after', async () => {
    await watchSleepTimers(async (holding) => {
      const started = performance.now();
      const wait = sleep(20, undefined, { ref: true });
      expect(holding()).toEqual([true]);
      await wait;
      expect(performance.now() - started).toBeGreaterThanOrEqual(19);
      await turn();
      expect(holding()).toEqual([]);
    });
  });

  it('an abort ends a ref\'d wait at once and releases its timer', async () => {
    await watchSleepTimers(async (holding) => {
      const controller = new AbortController();
      const wait = sleep(60_000, controller.signal, { ref: true });
      expect(holding()).toEqual([true]);
      controller.abort(new Error('stop'));
      const error: unknown = await wait.catch((e: unknown) => e);
      expect(isLifelineError(error, 'ABORTED')).toBe(true);
      expect((error as Error).stack?.split('\n')).toHaveLength(1); // expected: no stack captured
      expect((error as Error).cause).toEqual(new Error('stop'));
      await turn();
      expect(holding()).toEqual([]);
    });
  });
});

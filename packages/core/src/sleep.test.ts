import { describe, expect, it } from 'vitest';
import { isLifelineError } from './errors.ts';
import { sleep } from './sleep.ts';

/** Timers currently holding the process open (unref'd ones are not listed). */
function refTimers(): number {
  return process.getActiveResourcesInfo().filter((type) => type === 'Timeout').length;
}

describe('sleep', () => {
  it('waits on an unref\'d timer by default: housekeeping never holds a process open', async () => {
    const before = refTimers();
    const wait = sleep(20);
    expect(refTimers()).toBe(before);
    await wait;
  });

  it('with ref: true holds the process open while waiting, and not after', async () => {
    const before = refTimers();
    const started = performance.now();
    const wait = sleep(20, undefined, { ref: true });
    expect(refTimers()).toBe(before + 1);
    await wait;
    expect(performance.now() - started).toBeGreaterThanOrEqual(19);
    expect(refTimers()).toBe(before);
  });

  it('an abort ends a ref\'d wait at once and releases its timer', async () => {
    const before = refTimers();
    const controller = new AbortController();
    const wait = sleep(60_000, controller.signal, { ref: true });
    expect(refTimers()).toBe(before + 1);
    controller.abort(new Error('stop'));
    const error: unknown = await wait.catch((e: unknown) => e);
    expect(isLifelineError(error, 'ABORTED')).toBe(true);
    expect((error as Error).stack?.split('\n')).toHaveLength(1); // expected: no stack captured
    expect((error as Error).cause).toEqual(new Error('stop'));
    expect(refTimers()).toBe(before);
  });
});

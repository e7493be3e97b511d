import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { ManualClock } from './clock.ts';
import { CoarseTimer } from './coarse-timer.ts';
import { Deadline } from './deadline.ts';
import { isLifelineError, type LifelineError } from './errors.ts';
import type { PolicyContext } from './policy.ts';
import { timeout, TimeoutPolicy } from './timeout.ts';

function manual(): { clock: ManualClock; timer: CoarseTimer } {
  const clock = new ManualClock(1_000);
  return { clock, timer: new CoarseTimer({ clock, resolution: 10 }) };
}

/** A function that never settles on its own, recording the context it was given. */
function hang(seen: PolicyContext[]): (context: PolicyContext) => Promise<never> {
  return (context) => {
    seen.push(context);
    return new Promise<never>(() => undefined);
  };
}

describe('timeout()', () => {
  it('gives the function a deadline ms from now and a live signal, and returns its result', async () => {
    const { clock, timer } = manual();
    let seen: PolicyContext | undefined;
    const result = await timeout(500, { clock, timer }).execute((context) => {
      seen = context;
      return 'rows';
    });
    expect(result).toBe('rows');
    expect(seen?.deadline?.at).toBe(1_500);
    expect(seen?.signal?.aborted).toBe(false);
    expect(seen?.attempt).toBe(1);
    expect(timer.size).toBe(0); // the run's timer entry is gone with it
  });

  it('rejects with a retryable ATTEMPT_TIMEOUT at its own limit and aborts the function\'s signal with it', async () => {
    const { clock, timer } = manual();
    const seen: PolicyContext[] = [];
    const outcome = timeout(500, { clock, timer })
      .execute(hang(seen))
      .catch((error: unknown) => error as LifelineError);
    clock.advance(499);
    timer.runDue();
    expect(seen[0]!.signal!.aborted).toBe(false);
    clock.advance(11);
    timer.runDue();
    const error = await outcome;
    expect(isLifelineError(error, 'ATTEMPT_TIMEOUT')).toBe(true);
    expect(error.retryable).toBe(true);
    expect(error.message).toBe('timed out after 500 ms');
    expect(error.stack?.split('\n')).toHaveLength(1); // expected: no stack captured
    expect(seen[0]!.signal!.reason).toBe(error);
    expect(timer.size).toBe(0);
  });

  it('retryable: false marks its ATTEMPT_TIMEOUT as not worth a retry', async () => {
    const { clock, timer } = manual();
    const outcome = timeout(100, { clock, timer, retryable: false })
      .execute(hang([]))
      .catch((error: unknown) => error as LifelineError);
    clock.advance(110);
    timer.runDue();
    const error = await outcome;
    expect(isLifelineError(error, 'ATTEMPT_TIMEOUT')).toBe(true);
    expect(error.retryable).toBe(false);
  });

  it('keeps the caller\'s deadline when it is earlier, and fails with DEADLINE_EXCEEDED at it', async () => {
    const { clock, timer } = manual();
    const outer = Deadline.after(200, clock);
    const seen: PolicyContext[] = [];
    const outcome = timeout(2_000, { clock, timer })
      .execute(hang(seen), { deadline: outer })
      .catch((error: unknown) => error as LifelineError);
    expect(seen[0]!.deadline).toBe(outer);
    clock.advance(210);
    timer.runDue();
    const error = await outcome;
    expect(isLifelineError(error, 'DEADLINE_EXCEEDED')).toBe(true);
    expect(error.retryable).toBe(false);
    expect(seen[0]!.signal!.aborted).toBe(true);
  });

  it('a caller\'s later deadline does not stretch its own limit', async () => {
    const { clock, timer } = manual();
    const seen: PolicyContext[] = [];
    void timeout(300, { clock, timer }).execute(hang(seen), { deadline: Deadline.after(10_000, clock) }).catch(() => undefined);
    expect(seen[0]!.deadline!.at).toBe(1_300);
    clock.advance(310);
    timer.runDue();
    await Promise.resolve();
    expect(seen[0]!.signal!.aborted).toBe(true);
  });

  it('the caller\'s abort rejects at once with ABORTED, aborts the function\'s signal with the same reason and unschedules the run', async () => {
    const { timer, clock } = manual();
    const controller = new AbortController();
    const seen: PolicyContext[] = [];
    const outcome = timeout(5_000, { clock, timer })
      .execute(hang(seen), { signal: controller.signal })
      .catch((error: unknown) => error as LifelineError);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    const reason = new Error('client went away');
    controller.abort(reason);
    const error = await outcome;
    expect(isLifelineError(error, 'ABORTED')).toBe(true);
    expect(error.cause).toBe(reason);
    expect(seen[0]!.signal!.reason).toBe(reason);
    expect(timer.size).toBe(0);
  });

  it('removes its listener from the caller\'s signal when the run settles, either way', async () => {
    const { clock, timer } = manual();
    const controller = new AbortController();
    const policy = timeout(1_000, { clock, timer });
    await policy.execute(() => 1, { signal: controller.signal });
    await policy.execute(() => Promise.reject(new Error('boom')), { signal: controller.signal }).catch(() => undefined);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    expect(timer.size).toBe(0);
  });

  it('passes the function\'s own failure through, thrown or rejected', async () => {
    const { clock, timer } = manual();
    const policy = timeout(1_000, { clock, timer });
    const thrown = new Error('sync');
    await expect(
      policy.execute(() => {
        throw thrown;
      }),
    ).rejects.toBe(thrown);
    await expect(policy.execute(() => Promise.reject(new Error('async')))).rejects.toThrow('async');
    expect(timer.size).toBe(0);
  });

  it('never runs the function when the caller already aborted or its deadline already passed', async () => {
    const { clock, timer } = manual();
    let runs = 0;
    const policy = timeout(1_000, { clock, timer });
    const aborted = await policy.execute(() => runs++, { signal: AbortSignal.abort() }).catch((e: unknown) => e);
    expect(isLifelineError(aborted, 'ABORTED')).toBe(true);
    const late = await policy.execute(() => runs++, { deadline: Deadline.after(0, clock) }).catch((e: unknown) => e);
    expect(isLifelineError(late, 'DEADLINE_EXCEEDED')).toBe(true);
    expect(runs).toBe(0);
  });

  it('a function that rejects after the timeout fired is ignored, not an unhandled rejection', async () => {
    const { clock, timer } = manual();
    const outcome = timeout(100, { clock, timer }).execute(
      ({ signal }) => new Promise((_, reject) => signal!.addEventListener('abort', () => reject(new Error('late')))),
    );
    clock.advance(110);
    timer.runDue();
    await expect(outcome).rejects.toMatchObject({ code: 'ATTEMPT_TIMEOUT' });
    await new Promise((resolve) => setImmediate(resolve)); // an unhandled rejection would fail the run here
  });

  it('on a real timer: fires on real time, and holds the process open only while a run is in flight', async () => {
    // A real coarse timer of its own (the default is one shared by the process's timeouts,
    // the same class), so its hold can be read directly rather than counted process-wide.
    const timer = new CoarseTimer();
    let release!: () => void;
    const running = timeout(60_000, { timer }).execute(() => new Promise<void>((resolve) => (release = resolve)));
    expect(timer.hasRef()).toBe(true);
    release();
    await running;
    expect(timer.hasRef()).toBe(false);

    const started = performance.now();
    const error = await timeout(30, { timer })
      .execute(() => new Promise(() => undefined))
      .catch((e: unknown) => e);
    expect(isLifelineError(error, 'ATTEMPT_TIMEOUT')).toBe(true);
    expect(performance.now() - started).toBeGreaterThanOrEqual(29);
    expect(timer.hasRef()).toBe(false);
    timer.close();
  });

  it('by default on the shared timer: fires on real time', async () => {
    const error = await timeout(30)
      .execute(() => new Promise(() => undefined))
      .catch((e: unknown) => e);
    expect(isLifelineError(error, 'ATTEMPT_TIMEOUT')).toBe(true);
  });

  it('refuses bad configuration, naming the option, the value and what is allowed', () => {
    expect(() => timeout(-1)).toThrow(/option `timeout.ms` must be >= 0, got -1/);
    expect(() => timeout(0)).toThrow('lifeline: option `timeout.ms` must be > 0 ms (or Infinity), got 0');
    expect(() => timeout('2s' as unknown as number)).toThrow(/option `timeout.ms` must be a number, got "2s"/);
    expect(() => timeout(100, { retryable: 'no' as unknown as boolean })).toThrow(/`timeout.retryable` must be true or false, got "no"/);
    expect(() => timeout(100, { retries: 2 } as object)).toThrow(/unknown option `timeout.retries`/);
    expect(timeout(Infinity)).toBeInstanceOf(TimeoutPolicy);
  });
});

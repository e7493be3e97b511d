import { describe, expect, expectTypeOf, it } from 'vitest';
import { ManualClock } from './clock.ts';
import { CoarseTimer } from './coarse-timer.ts';
import { Deadline } from './deadline.ts';
import { isLifelineError } from './errors.ts';
import { fallback } from './fallback.ts';
import type { ExecuteOptions, Policy, PolicyContext } from './policy.ts';
import { timeout } from './timeout.ts';
import { wrap, WrappedPolicy } from './wrap.ts';

// The retry, breaker and bulkhead live in packages that depend on core, so these tests use
// minimal policies with the same contract; the core README's example composes the real ones.

/** Retries any failure up to `maxAttempts` times, numbering attempts from 1, as RetryPolicy does. */
class Retry implements Policy {
  readonly maxAttempts: number;

  constructor(maxAttempts: number) {
    this.maxAttempts = maxAttempts;
  }

  async execute<T>(fn: (context: PolicyContext) => PromiseLike<T> | T, options: ExecuteOptions = {}): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn({ attempt, signal: options.signal, deadline: options.deadline });
      } catch (error) {
        if (attempt >= this.maxAttempts || options.signal?.aborted) throw error;
      }
    }
  }
}

/** Runs the function once with attempt 1, as a breaker or a bulkhead does, and records what it was given. */
class Once implements Policy {
  readonly seen: ExecuteOptions[] = [];
  readonly name: string;
  readonly log: string[];

  constructor(name: string, log: string[] = []) {
    this.name = name;
    this.log = log;
  }

  async execute<T>(fn: (context: PolicyContext) => PromiseLike<T> | T, options: ExecuteOptions = {}): Promise<T> {
    this.seen.push(options);
    this.log.push(`${this.name} in`);
    try {
      return await fn({ attempt: 1, signal: options.signal, deadline: options.deadline });
    } finally {
      this.log.push(`${this.name} out`);
    }
  }
}

function manual(): { clock: ManualClock; timer: CoarseTimer } {
  const clock = new ManualClock(0);
  return { clock, timer: new CoarseTimer({ clock, resolution: 10 }) };
}

/** Lets pending promise callbacks run (the policies' awaits), without moving the manual clock. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('wrap()', () => {
  it('runs the function inside every policy, outermost first', async () => {
    const log: string[] = [];
    const result = await wrap(new Once('bulkhead', log), new Once('breaker', log)).execute(() => {
      log.push('fn');
      return 42;
    });
    expect(result).toBe(42);
    expect(log).toEqual(['bulkhead in', 'breaker in', 'fn', 'breaker out', 'bulkhead out']);
  });

  it('passes the caller\'s signal and deadline to the outermost policy and on inward', async () => {
    const outer = new Once('outer');
    const inner = new Once('inner');
    const controller = new AbortController();
    const deadline = Deadline.after(5_000);
    let seen: PolicyContext | undefined;
    await wrap(outer, inner).execute((context) => (seen = context), { signal: controller.signal, deadline });
    for (const options of [outer.seen[0], inner.seen[0]]) {
      expect(options?.signal).toBe(controller.signal);
      expect(options?.deadline).toBe(deadline);
    }
    expect(seen?.signal).toBe(controller.signal);
    expect(seen?.deadline).toBe(deadline);
  });

  it('a timeout\'s shorter deadline and its signal reach every policy and the function inside it', async () => {
    const { clock, timer } = manual();
    const inside = new Once('breaker');
    let seen: PolicyContext | undefined;
    await wrap(timeout(300, { clock, timer }), inside).execute((context) => (seen = context), {
      deadline: Deadline.after(5_000, clock),
    });
    expect(inside.seen[0]?.deadline?.at).toBe(300);
    expect(seen?.deadline?.at).toBe(300);
    expect(inside.seen[0]?.signal).toBe(seen?.signal);
    expect(seen?.signal).toBeInstanceOf(AbortSignal);
  });

  it('the attempt is the innermost retry\'s: a breaker or bulkhead inside the retry does not reset it', async () => {
    const attempts: number[] = [];
    const failTwice = ({ attempt }: PolicyContext): string => {
      attempts.push(attempt);
      if (attempt < 3) throw new Error('flaky');
      return 'ok';
    };
    await expect(wrap(new Once('bulkhead'), new Retry(3), new Once('breaker')).execute(failTwice)).resolves.toBe('ok');
    expect(attempts).toEqual([1, 2, 3]);

    const { clock, timer } = manual();
    attempts.length = 0;
    await wrap(new Retry(3), new Once('breaker'), timeout(1_000, { clock, timer })).execute(failTwice);
    expect(attempts).toEqual([1, 2, 3]);
  });

  it('with no retry the attempt is 1, and with nested retries it is the inner one\'s', async () => {
    const seen: number[] = [];
    await wrap(new Once('a'), new Once('b')).execute(({ attempt }) => seen.push(attempt));
    expect(seen).toEqual([1]);

    seen.length = 0;
    await wrap(new Retry(2), new Retry(3))
      .execute(({ attempt }) => {
        seen.push(attempt);
        throw new Error('down');
      })
      .catch(() => undefined);
    expect(seen).toEqual([1, 2, 3, 1, 2, 3]);
  });

  it('a timeout inside the retry bounds each attempt: timed-out attempts are retried', async () => {
    const { clock, timer } = manual();
    const starts: number[] = [];
    const outcome = wrap(new Retry(3), timeout(100, { clock, timer })).execute(({ attempt }) => {
      starts.push(clock.now());
      return attempt < 3 ? new Promise<string>(() => undefined) : 'third time';
    });
    for (let i = 0; i < 2; i++) {
      await settle();
      clock.advance(110);
      timer.runDue();
    }
    await expect(outcome).resolves.toBe('third time');
    expect(starts).toEqual([0, 110, 220]);
  });

  it('a timeout outside the retry bounds the whole call', async () => {
    const { clock, timer } = manual();
    let runs = 0;
    const outcome = wrap(timeout(250, { clock, timer }), new Retry(10))
      .execute(({ signal }) => {
        runs++;
        // Each attempt fails after 100 ms unless the call's signal aborts first.
        return new Promise<never>((_, reject) => {
          const t = { timerAt: 0, timerNext: null, timerPrev: null, timerSlot: -1, onTimer: () => reject(new Error('slow')) };
          timer.schedule(t, clock.now() + 100);
          signal!.addEventListener('abort', () => timer.cancel(t));
        });
      })
      .catch((error: unknown) => error);
    for (let i = 0; i < 3; i++) {
      await settle();
      clock.advance(100);
      timer.runDue();
    }
    const error = await outcome;
    expect(isLifelineError(error, 'ATTEMPT_TIMEOUT')).toBe(true);
    expect(runs).toBe(3); // at 0, 100 and 200 ms; the third was cut off at 250 ms
  });

  it('the caller\'s abort reaches the function through every policy', async () => {
    const controller = new AbortController();
    let seen: AbortSignal | undefined;
    const running = wrap(new Once('bulkhead'), timeout(60_000), new Once('breaker')).execute(
      ({ signal }) => {
        seen = signal;
        return new Promise<never>(() => undefined);
      },
      { signal: controller.signal },
    );
    controller.abort(new Error('client left'));
    await expect(running).rejects.toMatchObject({ code: 'ABORTED' });
    expect(seen?.aborted).toBe(true);
  });

  it('a fallback outermost answers for the final failure, after the retries', async () => {
    let runs = 0;
    const result = await wrap(fallback('cached'), new Retry(3)).execute(() => {
      runs++;
      return Promise.reject(new Error('down'));
    });
    expect(result).toBe('cached');
    expect(runs).toBe(3);
  });

  it('types the result with the fallback\'s value, through nested wraps', () => {
    const inner = wrap(new Retry(2), fallback({ stale: true as const }));
    expectTypeOf(inner.execute(() => 1)).toEqualTypeOf<Promise<number | { stale: true }>>();
    expectTypeOf(wrap(new Once('a'), inner).execute(() => 'x')).toEqualTypeOf<Promise<string | { stale: true }>>();
    expectTypeOf(wrap(new Once('a'), new Retry(2)).execute(() => 1)).toEqualTypeOf<Promise<number>>();
  });

  it('a wrap is a policy: maxAttempts is the product of its policies\', so an outer wrap takes the attempt from it', async () => {
    const inner = wrap(new Once('breaker'), new Retry(3));
    expect(inner.maxAttempts).toBe(3);
    expect(wrap(new Once('a')).maxAttempts).toBe(1);
    expect(wrap(new Retry(2), inner).maxAttempts).toBe(6);
    const seen: number[] = [];
    await wrap(new Once('bulkhead'), inner).execute(({ attempt }) => {
      seen.push(attempt);
      if (attempt < 2) throw new Error('once');
    });
    expect(seen).toEqual([1, 2]);
    expect(inner.policies).toHaveLength(2);
  });

  it('refuses anything but policies, naming the argument', () => {
    expect(() => wrap()).toThrow('lifeline: wrap() needs at least one policy, got none');
    expect(() => wrap(new Once('a'), null as unknown as Policy)).toThrow(
      'lifeline: wrap() argument 2 must be a policy (an object with execute(fn, options)), got null',
    );
    expect(() => wrap((() => 1) as unknown as Policy)).toThrow(/argument 1 must be a policy .*got a function/);
    expect(() => wrap({} as Policy)).toThrow(/got an object with no execute method/);
    expect(wrap(new Once('a'))).toBeInstanceOf(WrappedPolicy);
  });
});

import { describe, expect, expectTypeOf, it } from 'vitest';
import { LifelineError } from './errors.ts';
import { fallback, type FallbackEvent } from './fallback.ts';

const open = (): LifelineError => new LifelineError('CIRCUIT_OPEN', 'payment: circuit open');
/** A function that fails asynchronously with `error` (an Error or not: the policy takes either). */
const fail =
  (error: unknown) =>
  async (): Promise<never> => {
    await Promise.resolve();
    throw error;
  };

describe('fallback()', () => {
  it('passes a success through untouched and never calls the fallback', async () => {
    let calls = 0;
    const policy = fallback(() => {
      calls++;
      return 'stale';
    });
    await expect(policy.execute(() => 'fresh')).resolves.toBe('fresh');
    expect(calls).toBe(0);
  });

  it('answers a failure with the value', async () => {
    await expect(fallback({ status: 'pending' }).execute(fail(open()))).resolves.toEqual({ status: 'pending' });
  });

  it('answers with what the function returns for the error, sync or async', async () => {
    const error = open();
    let given: unknown;
    const sync = fallback((e) => {
      given = e;
      return 'cached';
    });
    await expect(sync.execute(fail(error))).resolves.toBe('cached');
    expect(given).toBe(error);
    const async = fallback((e) => Promise.resolve(`stale because ${(e as Error).message}`));
    await expect(async.execute(fail(error))).resolves.toBe('stale because payment: circuit open');
  });

  it('catches a function that throws synchronously too', async () => {
    const result = await fallback(0).execute(() => {
      throw new Error('sync');
    });
    expect(result).toBe(0);
  });

  it('a fallback function that throws makes its error the outcome', async () => {
    const cacheMiss = new Error('not cached either');
    await expect(
      fallback(() => {
        throw cacheMiss;
      }).execute(fail(open())),
    ).rejects.toBe(cacheMiss);
  });

  it('with a list of codes, replaces only Lifeline errors of those codes', async () => {
    const policy = fallback('stale', { when: ['CIRCUIT_OPEN', 'BULKHEAD_REJECTED'] });
    await expect(policy.execute(fail(open()))).resolves.toBe('stale');
    await expect(policy.execute(fail(new LifelineError('BULKHEAD_REJECTED', 'full')))).resolves.toBe('stale');
    const late = new LifelineError('DEADLINE_EXCEEDED', 'late');
    await expect(policy.execute(fail(late))).rejects.toBe(late);
    const plain = Object.assign(new Error('x'), { code: 'CIRCUIT_OPEN' }); // a code, but not a Lifeline error
    await expect(policy.execute(fail(plain))).rejects.toBe(plain);
  });

  it('with a predicate, replaces only the failures it accepts', async () => {
    const policy = fallback(null, { when: (error) => (error as { status?: number }).status === 404 });
    await expect(policy.execute(fail({ status: 404 }))).resolves.toBeNull();
    const serverError = { status: 500 };
    await expect(policy.execute(fail(serverError))).rejects.toBe(serverError);
  });

  it('never answers the caller\'s own abort: nobody is waiting for it', async () => {
    const controller = new AbortController();
    const policy = fallback('stale');
    const running = policy.execute(
      ({ signal }) => new Promise((_, reject) => signal!.addEventListener('abort', () => reject(signal!.reason as Error))),
      { signal: controller.signal },
    );
    const reason = new Error('caller left');
    controller.abort(reason);
    await expect(running).rejects.toBe(reason);
  });

  it('reports each replaced failure on onFallback', async () => {
    const events: FallbackEvent[] = [];
    const policy = fallback('stale', { when: ['CIRCUIT_OPEN'] });
    const sub = policy.onFallback((event) => events.push(event));
    const error = open();
    await policy.execute(fail(error));
    await policy.execute(fail(new Error('not matched'))).catch(() => undefined);
    sub.dispose();
    await policy.execute(fail(error));
    expect(events).toEqual([{ error }]);
  });

  it('types the result as the function\'s or the fallback\'s', () => {
    const policy = fallback(() => Promise.resolve({ stale: true as const }));
    expectTypeOf(policy.execute(() => 42)).toEqualTypeOf<Promise<number | { stale: true }>>();
    expectTypeOf(fallback('x').execute(() => 1)).toEqualTypeOf<Promise<number | string>>();
  });

  it('refuses bad configuration, naming the option, the value and what is allowed', () => {
    expect(() => fallback(0, { when: [] })).toThrow(
      'lifeline: option `fallback.when` must be a function (error) => boolean or a non-empty list of error codes, got an empty list',
    );
    expect(() => fallback(0, { when: 'CIRCUIT_OPEN' as never })).toThrow(/`fallback.when` must be .* got "CIRCUIT_OPEN"/);
    expect(() => fallback(0, { when: ['CIRCUIT_OPEN', 'OPEN'] as never })).toThrow(
      /option `fallback.when\[1\]` must be one of "DEADLINE_EXCEEDED", .*, got "OPEN"/,
    );
    expect(() => fallback(0, { on: ['CIRCUIT_OPEN'] } as object)).toThrow(/unknown option `fallback.on`; allowed: when/);
  });
});

import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { getEventListeners } from 'node:events';
import fc from 'fast-check';
import { CoarseTimer, Deadline, isLifelineError, ManualClock } from '@lifeline/core';
import { describe, expect, it } from 'vitest';
import { Bulkhead, type BulkheadRejectedError, type BulkheadRejection } from './bulkhead.ts';

function setup(options: { name?: string; maxConcurrent: number; maxQueue: number; maxQueueWait?: number }) {
  const clock = new ManualClock(0);
  const timer = new CoarseTimer({ clock, resolution: 10 });
  const bulkhead = new Bulkhead({ ...options, clock, timer });
  const advance = (ms: number): void => {
    clock.advance(ms);
    timer.runDue();
  };
  return { clock, timer, bulkhead, advance };
}

const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('Bulkhead', () => {
  it('admits N at once, queues M in FIFO order, rejects the rest with queue-full', async () => {
    const { bulkhead } = setup({ maxConcurrent: 2, maxQueue: 2 });
    const order: number[] = [];
    const gates: (() => void)[] = [];
    const run = (id: number): Promise<unknown> =>
      bulkhead
        .execute(() => {
          order.push(id);
          return new Promise<void>((resolve) => gates.push(resolve));
        })
        .catch((e: unknown) => e);
    const results = [1, 2, 3, 4, 5].map(run);
    await flush();
    expect(bulkhead.snapshot()).toMatchObject({ inFlight: 2, queued: 2, rejected: { 'queue-full': 1 } });
    const fifth = (await results[4]) as BulkheadRejectedError;
    expect(isLifelineError(fifth, 'BULKHEAD_REJECTED')).toBe(true);
    expect(fifth.reason).toBe('queue-full');
    expect(fifth.stack?.split('\n')).toHaveLength(1); // no stack captured for an expected rejection
    gates.shift()!();
    await flush();
    gates.shift()!();
    await flush();
    expect(order).toEqual([1, 2, 3, 4]);
    gates.splice(0).forEach((g) => g());
    await Promise.all(results);
    expect(bulkhead.snapshot()).toMatchObject({ inFlight: 0, queued: 0 });
  });

  it('a wait ends at maxQueueWait, or earlier at the deadline, on the injected clock', async () => {
    const { bulkhead, clock, advance } = setup({ maxConcurrent: 1, maxQueue: 5, maxQueueWait: 100 });
    expect(bulkhead.tryAcquire()).toBe(true);
    const long = bulkhead.acquire().catch((e: unknown) => e);
    const short = bulkhead.acquire({ deadline: Deadline.after(30, clock) }).catch((e: unknown) => e);
    advance(40);
    expect(await short).toMatchObject({ code: 'BULKHEAD_REJECTED', reason: 'deadline' });
    expect(bulkhead.queued).toBe(1);
    advance(70);
    expect(await long).toMatchObject({ reason: 'queue-timeout' });
    expect(bulkhead.snapshot().rejected).toMatchObject({ deadline: 1, 'queue-timeout': 1 });
  });

  it('a queued call holds the process open while it waits (its timer entry is ref\'d), and not after', async () => {
    const { bulkhead, timer, advance } = setup({ maxConcurrent: 1, maxQueue: 5, maxQueueWait: 100 });
    expect(bulkhead.tryAcquire()).toBe(true);
    expect(timer.hasRef()).toBe(false); // a slot taken at once waits on nothing
    const served = bulkhead.acquire();
    const timedOut = bulkhead.acquire().catch((e: unknown) => e);
    expect(timer.hasRef()).toBe(true);
    bulkhead.release(); // the slot passes to the first waiter
    await served;
    expect(timer.hasRef()).toBe(true); // the second still waits
    advance(110);
    expect(await timedOut).toMatchObject({ reason: 'queue-timeout' });
    expect(timer.hasRef()).toBe(false);
    bulkhead.release();
  });

  it('an abort removes the waiter at once and keeps the reason as cause', async () => {
    const { bulkhead } = setup({ maxConcurrent: 1, maxQueue: 5 });
    bulkhead.tryAcquire();
    const controller = new AbortController();
    const waiting = bulkhead.acquire({ signal: controller.signal }).catch((e: unknown) => e);
    expect(bulkhead.queued).toBe(1);
    controller.abort(new Error('client left'));
    const error = (await waiting) as BulkheadRejectedError;
    expect(error.reason).toBe('aborted');
    expect(error.cause).toMatchObject({ message: 'client left' });
    expect(bulkhead.queued).toBe(0);
    await expect(bulkhead.acquire({ signal: controller.signal })).rejects.toMatchObject({ reason: 'aborted' });
  });

  it('maxQueue 0 fails fast when full', async () => {
    const { bulkhead } = setup({ maxConcurrent: 1, maxQueue: 0 });
    bulkhead.tryAcquire();
    await expect(bulkhead.acquire()).rejects.toMatchObject({ reason: 'queue-full' });
  });

  it('never hands a slot to a waiter whose deadline or maxQueueWait passed since the last tick: it is dropped with its reason', async () => {
    const { clock, bulkhead } = setup({ maxConcurrent: 1, maxQueue: 3, maxQueueWait: 50 });
    expect(bulkhead.tryAcquire()).toBe(true);
    const outcomes: string[] = [];
    const wait = (name: string, deadline?: Deadline): Promise<void> =>
      bulkhead.acquire({ deadline }).then(
        () => void outcomes.push(`${name}: slot`),
        (error: BulkheadRejectedError) => void outcomes.push(`${name}: ${error.reason}`),
      );
    const expired = wait('deadline 5 ms', Deadline.after(5, clock));
    const waited = wait('waited 50 ms');
    clock.advance(20);
    const live = wait('fresh');
    // 60 ms later, with no timer tick in between: the first two waits are over, the third is not.
    clock.advance(40);
    bulkhead.release();
    await Promise.all([expired, waited, live]);
    expect(outcomes).toEqual(['deadline 5 ms: deadline', 'waited 50 ms: queue-timeout', 'fresh: slot']);
    expect(bulkhead.snapshot()).toMatchObject({ inFlight: 1, queued: 0 });
    // A wait with no end is never dropped, however late the slot comes.
    const endless = new Bulkhead({ maxConcurrent: 1, maxQueue: 1, clock, timer: new CoarseTimer({ clock }) });
    expect(endless.tryAcquire()).toBe(true);
    const patient = endless.acquire();
    clock.advance(1_000_000);
    endless.release();
    await expect(patient).resolves.toBeUndefined();
  });

  it('a released slot passes straight to the first waiter; a thrown error still releases', async () => {
    const { bulkhead } = setup({ maxConcurrent: 1, maxQueue: 1 });
    await expect(bulkhead.execute(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(bulkhead.inFlight).toBe(0);
    bulkhead.tryAcquire();
    const next = bulkhead.acquire();
    bulkhead.release();
    await next;
    expect(bulkhead.snapshot()).toMatchObject({ inFlight: 1, queued: 0 });
  });

  it('close() rejects the waiters, refuses new calls, and leaves no timer entry or listener', async () => {
    const timer = new CoarseTimer();
    const bulkhead = new Bulkhead({ maxConcurrent: 1, maxQueue: 5, maxQueueWait: 60_000, timer });
    bulkhead.tryAcquire();
    const controller = new AbortController();
    const waiting = bulkhead.acquire({ signal: controller.signal }).catch((e: unknown) => e);
    const other = bulkhead.acquire().catch((e: unknown) => e);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    expect(timer.size).toBe(2); // each wait is an entry on the one shared timer, not a timer of its own
    bulkhead.close();
    expect(await waiting).toMatchObject({ reason: 'closed' });
    expect(await other).toMatchObject({ reason: 'closed' });
    expect(timer.size).toBe(0);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    await expect(bulkhead.execute(() => 1)).rejects.toMatchObject({ reason: 'closed' });
    expect(bulkhead.snapshot().rejected).toMatchObject({ aborted: 0, closed: 3 });
    timer.close();
  });

  it('emits each rejection with its reason', async () => {
    const { bulkhead } = setup({ maxConcurrent: 1, maxQueue: 0 });
    const seen: string[] = [];
    bulkhead.onRejected(({ reason }) => seen.push(reason));
    bulkhead.tryAcquire();
    await bulkhead.acquire().catch(() => undefined);
    expect(seen).toEqual(['queue-full']);
  });

  it('publishes each rejection on the lifeline:bulkhead:reject diagnostics channel, named', async () => {
    const { bulkhead, advance } = setup({ name: 'payment', maxConcurrent: 1, maxQueue: 1, maxQueueWait: 50 });
    const published: unknown[] = [];
    const listener = (message: unknown): void => {
      published.push(message);
    };
    bulkhead.tryAcquire();
    const waiting = bulkhead.acquire().catch(() => undefined);
    await bulkhead.acquire().catch(() => undefined); // queue-full, with nobody listening
    subscribe('lifeline:bulkhead:reject', listener);
    try {
      await bulkhead.acquire().catch(() => undefined);
      advance(60);
      await waiting;
    } finally {
      unsubscribe('lifeline:bulkhead:reject', listener);
    }
    expect(published).toEqual<BulkheadRejection[]>([
      { name: 'payment', reason: 'queue-full', inFlight: 1, queued: 1 },
      { name: 'payment', reason: 'queue-timeout', inFlight: 1, queued: 0 },
    ]);
    expect(bulkhead.snapshot().rejected['queue-full']).toBe(2); // counted whether or not anyone listens
    expect(new Bulkhead().name).toBe('bulkhead');
  });

  it('rejects bad options naming them', () => {
    expect(() => new Bulkhead({ maxConcurrent: 0 })).toThrow(/`bulkhead.maxConcurrent` must be >= 1, got 0/);
    expect(() => new Bulkhead({ maxConcurrent: 2.5 })).toThrow(/integer/);
    expect(() => new Bulkhead({ maxQueue: -1 })).toThrow(/`bulkhead.maxQueue` must be >= 0, got -1/);
    expect(() => new Bulkhead({ maxQueueWait: Number.NaN })).toThrow(/`bulkhead.maxQueueWait` must be a number/);
    expect(() => new Bulkhead({ name: '' })).toThrow(/`bulkhead.name` must be a non-empty string, got ""/);
  });

  it('property: never more than N in flight or M queued; admission is FIFO; every call ends once', async () => {
    type Op =
      | { kind: 'arrive'; wait: number | undefined; abortable: boolean }
      | { kind: 'complete'; index: number }
      | { kind: 'abort'; index: number }
      | { kind: 'tick'; ms: number };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ kind: fc.constant('arrive' as const), wait: fc.option(fc.integer({ min: 1, max: 200 }), { nil: undefined }), abortable: fc.boolean() }),
      fc.record({ kind: fc.constant('complete' as const), index: fc.nat() }),
      fc.record({ kind: fc.constant('abort' as const), index: fc.nat() }),
      fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 1, max: 150 }) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 0, max: 4 }), fc.array(op, { maxLength: 120 }), async (n, m, ops) => {
        const { bulkhead, clock, advance } = setup({ maxConcurrent: n, maxQueue: m });
        const running: (() => void)[] = [];
        const waiting: { id: number; controller: AbortController }[] = [];
        const admitted: number[] = [];
        const outcomes = new Map<number, number>();
        let next = 0;
        const check = (): void => {
          expect(bulkhead.inFlight).toBeLessThanOrEqual(n);
          expect(bulkhead.queued).toBeLessThanOrEqual(m);
          expect(bulkhead.inFlight).toBe(running.length);
        };
        for (const o of ops) {
          if (o.kind === 'arrive') {
            const id = next++;
            const controller = new AbortController();
            const deadline = o.wait === undefined ? undefined : Deadline.after(o.wait, clock);
            waiting.push({ id, controller });
            void bulkhead
              .execute(
                () => {
                  admitted.push(id);
                  return new Promise<void>((resolve) => running.push(resolve));
                },
                { deadline, signal: o.abortable ? controller.signal : undefined },
              )
              .then(
                () => outcomes.set(id, (outcomes.get(id) ?? 0) + 1),
                () => outcomes.set(id, (outcomes.get(id) ?? 0) + 1),
              );
          } else if (o.kind === 'complete' && running.length > 0) {
            running.splice(o.index % running.length, 1)[0]!();
          } else if (o.kind === 'abort' && waiting.length > 0) {
            waiting[o.index % waiting.length]!.controller.abort();
          } else if (o.kind === 'tick') {
            advance(o.ms);
          }
          await flush();
          check();
        }
        // FIFO: calls were admitted in arrival order among those admitted.
        expect(admitted).toEqual([...admitted].sort((a, b) => a - b));
        // Drain: finish everything still running, time out everything still waiting.
        bulkhead.close();
        while (running.length > 0) {
          running.shift()!();
          await flush();
        }
        await flush();
        expect(outcomes.size).toBe(next);
        for (const count of outcomes.values()) expect(count).toBe(1);
      }),
      { numRuns: 150 },
    );
  });
});

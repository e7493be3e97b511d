import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { setTimeout as delay } from 'node:timers/promises';
import { Deadline, ManualClock, type ExecuteOptions } from '@lifeline/core';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { isLimiter, type BulkheadRejection, type Limiter } from '../src/index.ts';
import { FleetBulkhead, type FleetBulkheadOptions } from '../src/redis.ts';
import { ready, redisClient, startRedis, type RedisServer } from './redis-server.ts';

let server: RedisServer;
let serverDown = false;
const clients: Redis[] = [];
const limiters: FleetBulkhead[] = [];

beforeAll(async () => {
  server = await startRedis();
});
afterAll(async () => {
  await server.stop();
});
afterEach(async () => {
  for (const limiter of limiters.splice(0)) limiter.close();
  for (const client of clients.splice(0)) client.disconnect();
  if (serverDown) await startServer();
  const admin = await connect();
  await admin.flushall();
});

async function connect(): Promise<Redis> {
  const client = redisClient(server.port);
  clients.push(client);
  return ready(client);
}

async function stopServer(): Promise<void> {
  serverDown = true;
  await server.stop();
}

async function startServer(): Promise<void> {
  await server.start();
  serverDown = false;
}

/** One instance of the service: its own Redis connection, the fleet's shared key. */
async function instance(options: Omit<FleetBulkheadOptions, 'redis' | 'key'>): Promise<FleetBulkhead> {
  const limiter = new FleetBulkhead({ redis: await connect(), key: 'payment', ...options });
  limiters.push(limiter);
  return limiter;
}

/** A call guarded the way a client guards one: through the `Limiter` seam and nothing else. */
async function guarded<T>(limiter: Limiter, fn: () => Promise<T>, options?: ExecuteOptions): Promise<T> {
  if (!limiter.tryAcquire()) await limiter.acquire(options);
  try {
    return await fn();
  } finally {
    limiter.release();
  }
}

describe('FleetBulkhead through the Limiter seam, against a real redis-server', () => {
  it('a fleet of two instances, each used only as a Limiter, holds one limit between them', async () => {
    const fleet: Limiter[] = [await instance({ maxConcurrent: 3 }), await instance({ maxConcurrent: 3 })];
    expect(fleet.every((limiter) => isLimiter(limiter))).toBe(true);
    let running = 0;
    let peak = 0;
    const gates: (() => void)[] = [];
    const work = async (): Promise<void> => {
      running++;
      peak = Math.max(peak, running);
      await new Promise<void>((resolve) => gates.push(resolve));
      running--;
    };
    // Six calls per instance: each instance's local limit alone would let 3 + 3 run.
    const calls = Array.from({ length: 12 }, (_, i) => guarded(fleet[i % 2]!, work, { deadline: Deadline.after(10_000) }));
    await vi.waitFor(() => expect(running).toBe(3));
    await delay(100); // several polls later, still no fourth
    expect(running).toBe(3);
    const [a, b] = fleet as [Limiter, Limiter];
    expect(a.inFlight + b.inFlight).toBe(3);
    expect(a.queued + b.queued).toBe(9); // three in each local queue, three asking Redis
    expect(a.inFlight + a.queued).toBe(6);
    for (let done = 0; done < 12; done++) {
      await vi.waitFor(() => expect(gates.length).toBeGreaterThan(0));
      gates.shift()!();
    }
    await Promise.all(calls);
    expect(peak).toBe(3);
    expect(fleet.map((limiter) => limiter.snapshot())).toMatchObject([
      { inFlight: 0, queued: 0, maxConcurrent: 3, leasesHeld: 0 },
      { inFlight: 0, queued: 0, maxConcurrent: 3, leasesHeld: 0 },
    ]);
  });

  it('tryAcquire() is false while a slot needs Redis; on the local fallback it takes local slots, and rechecks Redis after a second', async () => {
    const clock = new ManualClock(0);
    const limiter = await instance({ maxConcurrent: 2, maxQueue: 0, clock });
    expect(limiter.tryAcquire()).toBe(false); // free slots, but only Redis can grant one
    expect(limiter.inFlight).toBe(0);

    await stopServer();
    await limiter.acquire(); // Redis unreachable: the local limit applies
    expect(limiter.shared).toBe(false);
    expect(limiter.tryAcquire()).toBe(true); // a free local slot, synchronously
    expect(limiter.tryAcquire()).toBe(false); // the local limit (2) is full
    expect(limiter.inFlight).toBe(2);
    limiter.release();
    clock.advance(999);
    expect(limiter.tryAcquire()).toBe(true);
    limiter.release();
    clock.advance(1);
    expect(limiter.tryAcquire()).toBe(false); // time to ask Redis again, through acquire()
    limiter.release();
    expect(limiter.snapshot()).toMatchObject({ inFlight: 0, leasesHeld: 0 });

    await startServer();
    await ready(clients.at(-1)!);
    await limiter.acquire();
    expect(limiter.snapshot()).toMatchObject({ shared: true, inFlight: 1, leasesHeld: 1 });
    expect(limiter.tryAcquire()).toBe(false);
    limiter.release();
  });

  it("onRejected and lifeline:bulkhead:reject report the local queue's rejections and the fleet-wide wait's, named", async () => {
    const other = await instance({ maxConcurrent: 1 });
    await other.acquire(); // the fleet's one slot
    const limiter = await instance({ name: 'payment-api', maxConcurrent: 1, maxQueue: 0, maxQueueWait: 100 });
    const events: BulkheadRejection[] = [];
    const published: unknown[] = [];
    const listener = (message: unknown): void => {
      published.push(message);
    };
    const subscription = limiter.onRejected((rejection) => events.push(rejection));
    subscribe('lifeline:bulkhead:reject', listener);
    try {
      const polling = limiter.acquire(); // holds the local slot while it asks Redis
      await expect(limiter.acquire()).rejects.toMatchObject({ code: 'BULKHEAD_REJECTED', reason: 'queue-full' }); // the local queue
      const error: unknown = await polling.catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'BULKHEAD_REJECTED', reason: 'queue-timeout' }); // the fleet-wide wait
      expect((error as Error).stack?.split('\n')).toHaveLength(1); // expected: no stack captured
    } finally {
      unsubscribe('lifeline:bulkhead:reject', listener);
    }
    expect(events.map(({ name, reason }) => [name, reason])).toEqual([
      ['payment-api', 'queue-full'],
      ['payment-api', 'queue-timeout'],
    ]);
    expect(events[1]).toEqual({ name: 'payment-api', reason: 'queue-timeout', inFlight: 0, queued: 0 });
    expect(published).toEqual(events);
    expect(limiter.snapshot().rejected).toMatchObject({ 'queue-full': 1, 'queue-timeout': 1 });

    subscription.dispose();
    await expect(limiter.acquire({ deadline: Deadline.after(50) })).rejects.toMatchObject({ reason: 'deadline' });
    expect(events).toHaveLength(2); // disposed: neither source reports to the listener any more
    expect(limiter.snapshot().rejected).toMatchObject({ 'queue-full': 1, 'queue-timeout': 1, deadline: 1 });
    other.release();
  });

  it('the key names the limiter by default; an unreachable Redis with whenUnavailable reject is reported as unavailable', async () => {
    const limiter = await instance({ maxConcurrent: 2, whenUnavailable: 'reject' });
    expect(limiter.name).toBe('payment');
    const events: BulkheadRejection[] = [];
    limiter.onRejected((rejection) => events.push(rejection));
    await stopServer();
    expect(limiter.tryAcquire()).toBe(false); // failing closed never takes a local slot
    await expect(limiter.acquire()).rejects.toMatchObject({ reason: 'unavailable' });
    expect(events).toEqual([{ name: 'payment', reason: 'unavailable', inFlight: 0, queued: 0 }]);
    expect(limiter.snapshot()).toMatchObject({ inFlight: 0, queued: 0, rejected: { unavailable: 1 } });
  });

  it('close() rejects a call waiting for a fleet-wide slot with reason closed', async () => {
    const other = await instance({ maxConcurrent: 1 });
    await other.acquire();
    const limiter = await instance({ maxConcurrent: 1 });
    const waiting = limiter.acquire({ deadline: Deadline.after(10_000) });
    await vi.waitFor(() => expect(limiter.queued).toBe(1));
    const started = performance.now();
    limiter.close();
    await expect(waiting).rejects.toMatchObject({ code: 'BULKHEAD_REJECTED', reason: 'closed' });
    expect(performance.now() - started).toBeLessThan(500);
    expect(limiter.snapshot()).toMatchObject({ inFlight: 0, queued: 0, leasesHeld: 0, rejected: { closed: 1 } });
    expect(limiter.tryAcquire()).toBe(false);
    await expect(limiter.acquire()).rejects.toMatchObject({ reason: 'closed' });
    other.release();
  });
});

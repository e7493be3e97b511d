import { Deadline } from '@lifeline/core';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FleetRateLimiter } from '../src/redis.ts';
import { ready, redisClient, startRedis, type RedisServer } from './redis-server.ts';

let server: RedisServer;
const clients: Redis[] = [];
const limiters: FleetRateLimiter[] = [];

beforeAll(async () => {
  server = await startRedis();
});
afterAll(async () => {
  await server.stop();
});
afterEach(async () => {
  for (const limiter of limiters.splice(0)) limiter.close();
  for (const client of clients.splice(0)) client.disconnect();
});

async function instance(key: string, limit: number, intervalMs: number): Promise<FleetRateLimiter> {
  const redis = await ready(redisClient(server.port));
  clients.push(redis);
  const limiter = new FleetRateLimiter({ redis, key, limit, intervalMs, maxQueue: 10_000 });
  limiters.push(limiter);
  return limiter;
}

describe('FleetRateLimiter against a real redis-server', () => {
  // 640: bottleneck is asked for 10 tokens at a time.
  it.each([10, 640])('two instances sharing one key together admit the limit per interval (%i)', async (limit) => {
    const intervalMs = 1_000;
    const started = performance.now();
    const key = `shared-rate-${limit}`;
    const [a, b] = [await instance(key, limit, intervalMs), await instance(key, limit, intervalMs)];
    const admittedAt: number[] = [];
    const deadline = Deadline.after(3_500);
    const offer = (limiter: FleetRateLimiter): Promise<unknown>[] =>
      Array.from({ length: 2.5 * limit }, () => limiter.execute(() => void admittedAt.push(performance.now() - started), { deadline }).catch(() => undefined));
    await Promise.all([...offer(a), ...offer(b)]);
    admittedAt.sort((x, y) => x - y);
    // Each batch of `limit` across both instances needs a refill of the one shared reservoir, at
    // least intervalMs after the last (unshared, the two would admit 20 in the first interval).
    // A loaded machine only delays them. 5 ms: Redis's clock against this process's.
    admittedAt.forEach((at, i) => expect(at).toBeGreaterThanOrEqual(Math.floor(i / limit) * intervalMs - 5));
    expect(admittedAt.length).toBeGreaterThanOrEqual(2 * limit); // the first two intervals' tokens, at least
    expect(a.snapshot().admitted + b.snapshot().admitted).toBe(admittedAt.length);
    expect(a.snapshot()).toMatchObject({ key: `lifeline:rate:${key}`, limit, intervalMs, queued: 0, inFlight: 0 });
    expect(await a.remaining()).toBeGreaterThanOrEqual(0);
  });

  it('a new instance’s limit replaces the one stored in Redis', async () => {
    const old = await instance('resized', 1, 60_000);
    await old.acquire();
    old.release();
    await expect(old.acquire({ deadline: Deadline.after(300) })).rejects.toMatchObject({ code: 'BULKHEAD_REJECTED', reason: 'deadline' });
    const resized = await instance('resized', 3, 200);
    // The reservoir refills to the new amount on the new interval.
    for (let i = 0; i < 3; i++) await resized.acquire({ deadline: Deadline.after(5_000) });
    expect(resized.snapshot().admitted).toBe(3);
  });

  it('fails closed with reason unavailable while Redis is unreachable', async () => {
    const limiter = await instance('outage', 100, 1_000);
    await limiter.acquire();
    limiter.release();
    await server.stop();
    try {
      const started = performance.now();
      await expect(limiter.acquire({ deadline: Deadline.after(5_000) })).rejects.toMatchObject({ code: 'BULKHEAD_REJECTED', reason: 'unavailable' });
      expect(performance.now() - started).toBeLessThan(4_000); // not at the deadline
      expect(limiter.snapshot().rejected.unavailable).toBe(1);
    } finally {
      await server.start();
    }
  });

  it('refuses a missing client or key at construction, naming the option', () => {
    expect(() => new FleetRateLimiter({ key: 'x', limit: 1, intervalMs: 1_000 } as never)).toThrow(/`rateLimiter.redis` must be an ioredis client/);
    const redis = redisClient(server.port);
    clients.push(redis);
    expect(() => new FleetRateLimiter({ redis, key: '', limit: 1, intervalMs: 1_000 })).toThrow(/`rateLimiter.key`/);
    expect(() => new FleetRateLimiter({ redis, key: 'k', limit: 1, intervalMs: 1_000, leaseMs: 5 } as never)).toThrow(/rateLimiter/);
  });
});

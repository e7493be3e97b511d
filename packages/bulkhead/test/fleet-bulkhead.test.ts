import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Deadline } from '@lifeline/core';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FleetBulkhead } from '../src/redis.ts';
import { ready, redisClient, startRedis, type RedisServer } from './redis-server.ts';

let server: RedisServer;
const clients: Redis[] = [];
const children: ChildProcess[] = [];

beforeAll(async () => {
  server = await startRedis();
});
afterAll(async () => {
  await server.stop();
});
afterEach(async () => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
  for (const client of clients.splice(0)) client.disconnect();
  if (!(await pingable())) await server.start();
  const admin = connect();
  await new Promise((resolve) => admin.once('ready', resolve));
  await admin.flushall();
});

function connect(): Redis {
  const client = redisClient(server.port);
  clients.push(client);
  return client;
}

async function pingable(): Promise<boolean> {
  const probe = new Redis({ port: server.port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => undefined);
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

/** Another instance of the service, in its own process, holding `hold` slots. */
async function otherInstance(hold: number, leaseMs = 60_000): Promise<ChildProcess> {
  const script = fileURLToPath(new URL('./fleet-child.ts', import.meta.url));
  const child = spawn(process.execPath, ['--conditions=@lifeline/source', script, String(server.port), String(hold), String(leaseMs)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`child exited early with ${code}`)));
    child.stdout.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes(`held ${hold}`)) resolve();
    });
  });
  return child;
}

describe('FleetBulkhead against a real redis-server', () => {
  it('two instances in separate processes share one limit', async () => {
    const child = await otherInstance(2); // holds 2 of the fleet's 3
    const bulkhead = new FleetBulkhead({ redis: await ready(connect()), key: 'shared-test', maxConcurrent: 3, maxQueueWait: 300 });
    await bulkhead.acquire(); // the third
    const started = performance.now();
    await expect(bulkhead.acquire()).rejects.toMatchObject({ code: 'BULKHEAD_REJECTED', reason: 'queue-timeout' });
    expect(performance.now() - started).toBeGreaterThanOrEqual(250);
    expect(bulkhead.snapshot()).toMatchObject({ shared: true, leasesHeld: 1, inFlight: 1 });

    const waiting = bulkhead.acquire({ deadline: Deadline.after(5_000) });
    child.stdin!.write('release\n');
    await waiting; // a slot freed by the other process
    expect(bulkhead.snapshot().leasesHeld).toBe(2);
    bulkhead.release();
    bulkhead.release();
    expect(bulkhead.snapshot()).toMatchObject({ inFlight: 0, leasesHeld: 0 });
    bulkhead.close();
  });

  it("a crashed instance's slots come back when its leases expire", async () => {
    const child = await otherInstance(3, 400);
    child.kill('SIGKILL');
    const bulkhead = new FleetBulkhead({ redis: await ready(connect()), key: 'shared-test', maxConcurrent: 3 });
    const started = performance.now();
    await bulkhead.acquire({ deadline: Deadline.after(5_000) });
    expect(performance.now() - started).toBeLessThan(3_000);
    bulkhead.close();
  });

  it('Redis stopped: falls back to the local limit, warns once; Redis back: the shared limit again', async () => {
    const lines: string[] = [];
    const logger = { warn: (_o: object, m: string) => lines.push(`warn: ${m}`), info: (_o: object, m: string) => lines.push(`info: ${m}`) };
    const redis = await ready(connect());
    const bulkhead = new FleetBulkhead({ redis, key: 'shared-test', maxConcurrent: 2, maxQueue: 0, logger });
    await bulkhead.acquire();
    bulkhead.release();

    await server.stop();
    await bulkhead.acquire();
    await bulkhead.acquire();
    await expect(bulkhead.acquire()).rejects.toMatchObject({ reason: 'queue-full' }); // the local limit holds
    expect(bulkhead.snapshot()).toMatchObject({ shared: false, inFlight: 2, leasesHeld: 0 });
    bulkhead.release();
    bulkhead.release();
    expect(lines).toEqual(['warn: fleet bulkhead: Redis unreachable, using the local limit']);

    await server.start();
    await ready(redis);
    await bulkhead.acquire();
    expect(bulkhead.snapshot()).toMatchObject({ shared: true, leasesHeld: 1 });
    expect(lines.at(-1)).toBe('info: fleet bulkhead: Redis reachable again, the shared limit applies');
    bulkhead.release();
    bulkhead.close();
  });

  it("whenUnavailable: 'reject' fails closed", async () => {
    const redis = await ready(connect());
    const bulkhead = new FleetBulkhead({ redis, key: 'shared-test', maxConcurrent: 2, whenUnavailable: 'reject' });
    await server.stop();
    await expect(bulkhead.acquire()).rejects.toMatchObject({ code: 'BULKHEAD_REJECTED', reason: 'unavailable' });
    expect(bulkhead.snapshot().inFlight).toBe(0); // the local slot was given back
    bulkhead.close();
  });

  it('rejects bad options naming them', () => {
    expect(() => new FleetBulkhead({ redis: {} as Redis, key: 'k' })).toThrow(/`bulkhead.redis` must be an ioredis client/);
    const redis = connect();
    expect(() => new FleetBulkhead({ redis, key: '' })).toThrow(/`bulkhead.key` must be a non-empty string/);
    expect(() => new FleetBulkhead({ redis, key: 'k', whenUnavailable: 'open' as 'local' })).toThrow(/`bulkhead.whenUnavailable` must be one of/);
  });
});

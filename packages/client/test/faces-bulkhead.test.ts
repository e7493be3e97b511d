import { Bulkhead } from '@lifeline/bulkhead';
import { FleetBulkhead } from '@lifeline/bulkhead/redis';
import { isLifelineError } from '@lifeline/core';
import { fetch } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ready, redisClient, startRedis, type RedisServer } from '../../bulkhead/test/redis-server.ts';
import { createClient, createDispatcher } from '../src/index.ts';
import { catchError, startServer, type TestServer } from './servers.ts';

// The limiter lives in the pipeline, around whole calls: the client and fetch() (undici's,
// with the Lifeline dispatcher) are held by the same one — a local Bulkhead, or any other
// Limiter such as the FleetBulkhead that one fleet shares over a real Redis.

const cleanup: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

/** A server that answers after `ms`. */
async function slow(ms: number): Promise<TestServer> {
  const s = await startServer((_req, res) => void setTimeout(() => res.writeHead(200).end('ok'), ms));
  cleanup.push(() => s.close());
  return s;
}

/** Settles every promise; the answers' bodies, or the Lifeline error a failure carries (fetch's as its cause). */
async function outcomes(calls: Promise<string>[]): Promise<unknown[]> {
  return Promise.all(calls.map((c) => c.then((body) => body, (e: unknown) => (e instanceof TypeError && e.cause !== undefined ? e.cause : e))));
}

describe('a local bulkhead', () => {
  it('through fetch(): at most N calls in flight, the rest rejected with BULKHEAD_REJECTED as the fetch failure’s cause', async () => {
    const s = await slow(150);
    const dispatcher = createDispatcher({ baseUrl: s.url, bulkhead: { maxConcurrent: 2, maxQueue: 1 } });
    cleanup.push(() => dispatcher.destroy());
    const results = await outcomes(Array.from({ length: 5 }, async () => (await fetch(`${s.url}/`, { dispatcher })).text()));
    expect(results.filter((r) => r === 'ok')).toHaveLength(3); // 2 in flight + 1 that waited
    const rejected = results.filter((r) => r !== 'ok');
    expect(rejected).toHaveLength(2);
    for (const r of rejected) expect(r).toMatchObject({ code: 'BULKHEAD_REJECTED', reason: 'queue-full', attempts: 0 });
    expect(s.seen).toHaveLength(3);
  });

  it('one Bulkhead given to a client and a dispatcher bounds both faces together', async () => {
    const s = await slow(150);
    const bulkhead = new Bulkhead({ maxConcurrent: 1, maxQueue: 0 });
    const client = createClient({ baseUrl: s.url, bulkhead });
    const dispatcher = createDispatcher({ baseUrl: s.url, bulkhead });
    cleanup.push(() => client.destroy(), () => dispatcher.destroy());
    const viaClient = client.get('/').then((r) => r.body.text());
    const viaFetch = fetch(`${s.url}/`, { dispatcher }).then((r) => r.text());
    const [a, b] = await outcomes([viaClient, viaFetch]);
    expect(a).toBe('ok');
    expect(isLifelineError(b, 'BULKHEAD_REJECTED')).toBe(true);
    expect(bulkhead.snapshot()).toMatchObject({ inFlight: 0, rejected: { 'queue-full': 1 } });
  });
});

describe('a FleetBulkhead over a real Redis', () => {
  let redis: RedisServer;
  const connections: ReturnType<typeof redisClient>[] = [];
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis.stop();
  });
  afterEach(() => {
    for (const c of connections.splice(0)) c.disconnect();
  });

  /** One instance of a service: its own Redis connection, the fleet's shared limit of 1. */
  async function fleetLimit(key: string): Promise<FleetBulkhead> {
    const connection = await ready(redisClient(redis.port));
    connections.push(connection);
    const limiter = new FleetBulkhead({ redis: connection, key, maxConcurrent: 1, maxQueueWait: 100, pollMs: 10 });
    cleanup.push(() => limiter.close());
    return limiter;
  }

  it('two instances, one a client and one a fetch dispatcher, share one fleet-wide slot', async () => {
    const s = await slow(400);
    const client = createClient({ baseUrl: s.url, bulkhead: await fleetLimit('fleet-a') });
    const dispatcher = createDispatcher({ baseUrl: s.url, bulkhead: await fleetLimit('fleet-a') });
    cleanup.push(() => client.destroy(), () => dispatcher.destroy());
    const first = client.get('/').then((r) => r.body.text());
    await new Promise((resolve) => setTimeout(resolve, 100)); // the client holds the fleet's slot
    const [viaFetch] = await outcomes([fetch(`${s.url}/`, { dispatcher }).then((r) => r.text())]);
    expect(viaFetch).toMatchObject({ code: 'BULKHEAD_REJECTED' });
    expect(await first).toBe('ok');
    expect(s.seen).toHaveLength(1);
    // The slot is given back when the call ends: the other face gets it now.
    expect(await (await fetch(`${s.url}/`, { dispatcher })).text()).toBe('ok');
  });

  it('the other way round: fetch holds the slot, the client is rejected', async () => {
    const s = await slow(400);
    const client = createClient({ baseUrl: s.url, bulkhead: await fleetLimit('fleet-b') });
    const dispatcher = createDispatcher({ baseUrl: s.url, bulkhead: await fleetLimit('fleet-b') });
    cleanup.push(() => client.destroy(), () => dispatcher.destroy());
    const first = fetch(`${s.url}/`, { dispatcher }).then((r) => r.text());
    await new Promise((resolve) => setTimeout(resolve, 100));
    const error = await catchError(client.get('/'));
    expect(error).toMatchObject({ code: 'BULKHEAD_REJECTED', service: `127.0.0.1:${s.port}` });
    expect(await first).toBe('ok');
  });
});

import { isLifelineError } from '@lifeline/core';
import { Discovery, StaticResolver, type DiscoveryOptions } from '@lifeline/discovery';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { createClient, type ClientOptions, type LifelineClient } from '../src/index.ts';
import { catchError, quickBackoff, startServer, type TestServer, countConcurrently } from './servers.ts';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function servers(...handlers: Parameters<typeof startServer>[0][]): Promise<TestServer[]> {
  const list = await Promise.all(handlers.map((h) => startServer(h)));
  for (const s of list) cleanup.push(() => s.close());
  return list;
}

function setup(targets: TestServer[], discoveryOptions: Partial<DiscoveryOptions> = {}, clientOptions: Partial<ClientOptions> = {}) {
  const resolver = new StaticResolver({ services: { payment: targets.map((s) => `127.0.0.1:${s.port}`) } });
  const discovery = new Discovery({ resolver, ...discoveryOptions });
  const client = createClient({ service: 'payment', discovery, retry: { backoff: quickBackoff }, ...clientOptions });
  cleanup.push(() => discovery.close(), () => client.close());
  return { resolver, discovery, client };
}

/** Runs `total` GETs, `concurrency` at a time; returns how many succeeded. */
async function drive(client: LifelineClient, total: number, concurrency: number): Promise<number> {
  return countConcurrently(total, concurrency, async () => {
    await (await client.get('/work')).body.dump();
    return true;
  });
}

const fast = (_req: unknown, res: { end: (s: string) => void }): void => res.end('ok');

describe('client with discovery', () => {
  it('spreads calls over the endpoints and sends a slow one clearly less (P2C), compared with round-robin', async () => {
    const slowHandler: Parameters<typeof startServer>[0] = (_req, res) => void setTimeout(() => res.end('slow'), 80);
    const [a, b, slow] = await servers(fast, fast, slowHandler);
    const p2c = setup([a!, b!, slow!]);
    expect(await drive(p2c.client, 300, 8)).toBe(300);
    const p2cSlow = slow!.seen.length;
    expect(a!.seen.length + b!.seen.length + p2cSlow).toBe(300);

    const [c, d, slow2] = await servers(fast, fast, slowHandler);
    const rr = setup([c!, d!, slow2!], { balancer: 'round-robin' });
    expect(await drive(rr.client, 300, 8)).toBe(300);
    const rrSlow = slow2!.seen.length;

    // Round-robin gives the slow endpoint its third; P2C (fewer in flight wins) far less.
    expect(rrSlow).toBeGreaterThanOrEqual(90);
    expect(p2cSlow).toBeLessThan(rrSlow / 2);
    expect(p2cSlow).toBeLessThan(Math.min(a!.seen.length, b!.seen.length) / 3);
    // Both fast endpoints get real traffic.
    expect(Math.min(a!.seen.length, b!.seen.length)).toBeGreaterThan(60);
  });

  it('ejects a failing endpoint, moves its traffic to the healthy ones, and takes it back after it recovers', async () => {
    let broken = true;
    const [a, b, flaky] = await servers(fast, fast, (_req, res) => {
      res.statusCode = broken ? 503 : 200;
      res.end(broken ? 'down' : 'ok');
    });
    // A failure counts as a 1.6 s latency in P2C, so the broken endpoint is tried again only
    // once that sample is older than ewmaDecayMs: 30 ms here, so it fails 3 times in a row soon.
    const { client, discovery } = setup([a!, b!, flaky!], {
      breaker: { consecutiveFailures: 3, breakDuration: 400, halfOpenProbes: 1 },
      ewmaDecayMs: 30,
    });
    const flakyState = () => discovery.snapshot().services[0]!.endpoints.find((e) => e.address === `127.0.0.1:${flaky!.port}`)!;
    // Every call succeeds: a 503 from the broken endpoint is retried on another one.
    for (let i = 0; i < 50 && !flakyState().ejected; i++) expect(await drive(client, 20, 2)).toBe(20);
    expect(discovery.snapshot().services[0]!.mode).toBe('normal');
    expect(flakyState()).toMatchObject({ ejected: true, health: 'failing', ejections: 1 });

    // While it is ejected it gets nothing (at most a probe when its break ends).
    const before = flaky!.seen.length;
    expect(await drive(client, 60, 2)).toBe(60);
    expect(flaky!.seen.length - before).toBeLessThanOrEqual(2);

    broken = false;
    await sleep(1_000); // longer than the (possibly doubled) break
    expect(await drive(client, 120, 2)).toBe(120);
    expect(flakyState()).toMatchObject({ ejected: false, health: 'healthy', breaker: 'closed' });
    expect(flaky!.seen.length - before).toBeGreaterThan(10);
  });

  it('a retry goes to another endpoint than the one that just failed', async () => {
    const [down, up] = await servers((_req, res) => {
      res.statusCode = 503;
      res.end();
    }, fast);
    const { client } = setup([down!, up!], { breaker: { consecutiveFailures: Infinity, minimumCalls: 1_000 } }, { retry: { maxAttempts: 2, backoff: quickBackoff, budget: false } });
    for (let i = 0; i < 30; i++) {
      const res = await client.get('/x');
      expect(res.status).toBe(200);
      await res.body.dump();
    }
    expect(down!.seen.length).toBeGreaterThan(0); // it was tried, and every retry went elsewhere
  });

  it('fails with NO_ENDPOINTS when the service has no instance, and works once one appears', async () => {
    const [s] = await servers(fast);
    const resolver = new StaticResolver({ services: { payment: [] } });
    const discovery = new Discovery({ resolver });
    const client = createClient({ service: 'payment', discovery, basePath: '/v1' });
    cleanup.push(() => discovery.close(), () => client.close());
    const error = await catchError(client.get('/charges'));
    expect(isLifelineError(error, 'NO_ENDPOINTS')).toBe(true);
    expect((error as Error).message).toMatch(/^payment: no endpoints/);
    resolver.set('payment', [`127.0.0.1:${s!.port}`]);
    const res = await client.get('/charges');
    expect(await res.body.text()).toBe('ok');
    expect(s!.seen[0]!.url).toBe('/v1/charges');
  });

  it('fails fast with CIRCUIT_OPEN when every endpoint is failing', async () => {
    const down = (_req: unknown, res: { statusCode: number; end: () => void }): void => {
      res.statusCode = 500;
      res.end();
    };
    const [x, y] = await servers(down, down);
    const { client } = setup([x!, y!], { breaker: { consecutiveFailures: 2, breakDuration: 60_000 } }, { retry: false, throwOnHttpError: false });
    // Two failures open an endpoint's breaker; an ejected one gets no more calls: four calls open both.
    for (let i = 0; i < 4; i++) await (await client.get('/')).body.dump();
    // The calls the servers saw; discovery's health checks of the open endpoints are not calls.
    const calls = (): number => [...x!.seen, ...y!.seen].filter((r) => r.url === '/').length;
    const seen = calls();
    expect(seen).toBe(4);
    const error = await catchError(client.get('/'));
    expect(isLifelineError(error, 'CIRCUIT_OPEN')).toBe(true);
    // The break is 60 s, but the next health check (every 500 ms) may end it: that is the wait.
    expect((error as { retryAfterMs?: number }).retryAfterMs).toBeGreaterThan(0);
    expect((error as { retryAfterMs?: number }).retryAfterMs).toBeLessThanOrEqual(500);
    expect(calls()).toBe(seen);
  });

  it('refuses options that do not fit discovery', () => {
    const discovery = new Discovery({ resolver: new StaticResolver() });
    cleanup.push(() => discovery.close());
    expect(() => createClient({ service: 'payment' })).toThrow(/`service` needs `discovery`/);
    expect(() => createClient({ service: 'payment', discovery, baseUrl: 'http://x' })).toThrow(/`baseUrl` and `discovery` exclude each other/);
    expect(() => createClient({ service: 'payment', discovery, breaker: {} })).toThrow(/each endpoint has its own breaker/);
    expect(() => createClient({ service: 'payment', discovery, basePath: 'v1' })).toThrow(/`basePath` must start with "\/"/);
    expect(() => createClient({ discovery })).toThrow(/`service`/);
    expect(() => createClient({})).toThrow(/needs `baseUrl`/);
  });
});

describe('snapshot()', () => {
  it('reports the budget, the bulkhead and every endpoint as plain JSON', async () => {
    let failing = true;
    const [good, bad] = await servers(fast, (_req, res) => {
      if (failing) {
        res.statusCode = 503;
        res.end('down');
      } else res.end('ok');
    });
    const { client } = setup([good!, bad!], { breaker: { minimumCalls: 1000, consecutiveFailures: 2 } }, { retry: { maxAttempts: 1 } });
    await drive(client, 40, 4);
    const snapshot = JSON.parse(JSON.stringify(client.snapshot())) as ReturnType<LifelineClient['snapshot']>;
    expect(snapshot).toMatchObject({ name: 'payment', inFlight: 0, bulkhead: { inFlight: 0, queued: 0 }, retryBudget: { exhausted: false } });
    expect(snapshot.breaker).toBeUndefined(); // with discovery, each endpoint has its own breaker
    const byAddress = Object.fromEntries(snapshot.pool!.endpoints.map((e) => [e.address, e]));
    expect(byAddress[`127.0.0.1:${bad!.port}`]).toMatchObject({ breaker: 'open', ejected: true });
    expect(byAddress[`127.0.0.1:${good!.port}`]).toMatchObject({ breaker: 'closed', ejected: false });
    expect(snapshot.pool).toMatchObject({ service: 'payment', healthy: 1, ejected: 1 });
    failing = false;
  });
});

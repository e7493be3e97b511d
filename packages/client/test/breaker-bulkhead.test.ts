import { CircuitBreaker } from '@lifeline/breaker';
import { ManualClock } from '@lifeline/core';
import { afterEach, describe, expect, it } from 'vitest';
import { createClient, type LifelineClient } from '../src/index.ts';
import { catchError, quickBackoff, startServer, type TestServer } from './servers.ts';

let server: TestServer | undefined;
let client: LifelineClient | undefined;
afterEach(async () => {
  await client?.destroy();
  await server?.close();
  client = server = undefined;
});

describe('the breaker inside the client', () => {
  it('a dependency that starts failing opens the breaker; calls then fail fast; recovery closes it', async () => {
    let healthy = true;
    server = await startServer((_req, res) => (healthy ? res.writeHead(200).end('ok') : res.writeHead(500).end('down')));
    const clock = new ManualClock();
    const breaker = new CircuitBreaker({ name: 'payment', clock, consecutiveFailures: 3, breakDuration: 5_000, halfOpenProbes: 1 });
    client = createClient({ name: 'payment', baseUrl: server.url, breaker, retry: { backoff: quickBackoff } });

    expect(await (await client.get('/')).body.text()).toBe('ok');
    healthy = false;
    await expect(client.get('/')).rejects.toMatchObject({ code: 'HTTP_STATUS', status: 500, attempts: 3 });
    expect(breaker.state).toBe('open');

    const before = server.seen.length;
    const started = performance.now();
    const error = await catchError(client.get('/'));
    expect(error).toMatchObject({ code: 'CIRCUIT_OPEN', retryAfterMs: 5_000, attempts: 0, retryable: false }); // none was sent
    expect(server.seen.length).toBe(before); // failed fast: nothing sent, no retry waited for
    expect(performance.now() - started).toBeLessThan(500);

    healthy = true;
    clock.advance(5_000);
    expect(await (await client.get('/')).body.text()).toBe('ok'); // the probe
    expect(breaker.state).toBe('closed');
  });

  it('slow responses count as failures (slowCallMs defaults to 0.8 × attemptTimeout)', async () => {
    // 850 ms answers against a 1 s attempt timeout: slower than the 800 ms threshold, with
    // a wide margin before the timeout itself, so the answers arrive and count as slow.
    server = await startServer((_req, res) => setTimeout(() => res.writeHead(200).end('slow'), 850));
    client = createClient({ name: 'dep', baseUrl: server.url, attemptTimeout: 1_000, retry: false, breaker: { consecutiveFailures: 2 } });
    expect(await (await client.get('/')).body.text()).toBe('slow');
    expect(await (await client.get('/')).body.text()).toBe('slow');
    expect(client.breaker!.snapshot()).toMatchObject({ state: 'open' });
    await expect(client.get('/')).rejects.toMatchObject({ code: 'CIRCUIT_OPEN' });
  });

  it('4xx answers are not failures; a caller abort is not counted', async () => {
    server = await startServer((req, res) => (req.url === '/hang' ? undefined : res.writeHead(404).end()));
    client = createClient({ name: 'dep', baseUrl: server.url, breaker: { consecutiveFailures: 1 } });
    for (let i = 0; i < 5; i++) await client.get('/missing').catch(() => undefined);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 30);
    await client.get('/hang', { signal: controller.signal }).catch(() => undefined);
    expect(client.breaker!.snapshot()).toMatchObject({ state: 'closed', failures: 0 });
  });

  it('breaker: false turns it off', async () => {
    server = await startServer((_req, res) => res.writeHead(500).end());
    client = createClient({ name: 'dep', baseUrl: server.url, breaker: false, retry: false });
    for (let i = 0; i < 10; i++) await client.get('/').catch(() => undefined);
    expect(client.breaker).toBeUndefined();
    expect(server.seen).toHaveLength(10);
  });
});

describe('the bulkhead inside the client', () => {
  it('a slow dependency holds at most N calls; the rest fail fast with BULKHEAD_REJECTED', async () => {
    server = await startServer((_req, res) => setTimeout(() => res.writeHead(200).end('ok'), 200));
    client = createClient({ name: 'payment', baseUrl: server.url, bulkhead: { maxConcurrent: 2, maxQueue: 1 } });
    const calls = Array.from({ length: 5 }, () => client!.get('/').then((r) => r.body.text(), (e: unknown) => e));
    const results = await Promise.all(calls);
    expect(results.filter((r) => r === 'ok')).toHaveLength(3); // 2 in flight + 1 that waited
    const rejected = results.filter((r) => r !== 'ok');
    expect(rejected).toHaveLength(2);
    for (const r of rejected) expect(r).toMatchObject({ code: 'BULKHEAD_REJECTED', reason: 'queue-full', service: 'payment' });
    expect(server.seen).toHaveLength(3);
    expect(client.bulkhead!.snapshot()).toMatchObject({ inFlight: 0, queued: 0, rejected: { 'queue-full': 2 } });
  });

  it('a queued call waits no longer than its deadline', async () => {
    server = await startServer((_req, res) => setTimeout(() => res.writeHead(200).end('ok'), 300));
    client = createClient({ name: 'dep', baseUrl: server.url, bulkhead: { maxConcurrent: 1, maxQueue: 5 } });
    const first = client.get('/').then((r) => r.body.text());
    const started = performance.now();
    await expect(client.get('/', { timeout: 100 })).rejects.toMatchObject({ code: 'BULKHEAD_REJECTED', reason: 'deadline' });
    expect(performance.now() - started).toBeLessThan(100 + 300);
    expect(await first).toBe('ok');
  });
});

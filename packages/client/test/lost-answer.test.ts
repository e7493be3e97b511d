import { Discovery, StaticResolver } from '@lifeline/discovery';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, test } from 'vitest';
import { createClient, type LifelineClient } from '../src/index.ts';

/**
 * A payment-like server: a keyed POST it has not seen runs and is stored; one it has seen is
 * answered from the store with `idempotent-replayed: true` (when `replays` is on). `lose`
 * decides, per request, whether its answer is lost: the connection is destroyed once the
 * work is done, with no byte sent.
 */
function keyedServer(store: Set<string>, lose: (n: number, replay: boolean) => boolean, replays = true): { server: Server; requests: () => number } {
  let n = 0;
  const server = createServer((req, res) => {
    const key = String(req.headers['idempotency-key']);
    const count = ++n;
    req.resume();
    req.on('end', () => {
      const replay = replays && store.has(key);
      store.add(key);
      if (lose(count, replay)) {
        res.socket!.destroy();
        return;
      }
      res.writeHead(201, replay ? { 'content-type': 'application/json', 'idempotent-replayed': 'true' } : { 'content-type': 'application/json' });
      res.end('{"ok":true}');
    });
  });
  return { server, requests: () => n };
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const open: { close(): Promise<void> | void }[] = [];
afterEach(async () => {
  for (const thing of open.splice(0).reverse()) await thing.close();
});

function closeServer(server: Server): { close(): Promise<void> } {
  return { close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

async function pay(client: LifelineClient, key: string): Promise<string> {
  try {
    const res = await client.post('/charges', { json: { amount: 1 }, idempotencyKey: key });
    await res.body.dump();
    return String(res.status);
  } catch (error) {
    return (error as { code?: string }).code ?? 'error';
  }
}

/** A client of the service `payment` on these two servers through discovery (no health checks), retrying at once. */
async function paymentClient(...servers: Server[]): Promise<LifelineClient> {
  const endpoints = [];
  for (const server of servers) {
    endpoints.push(await listen(server));
    open.push(closeServer(server));
  }
  const discovery = new Discovery({ resolver: new StaticResolver({ services: { payment: endpoints } }), healthCheck: false });
  open.push({ close: () => discovery.close() });
  const client = createClient({ name: 'payment', service: 'payment', discovery, timeout: 2_000, throwOnHttpError: false, retry: { backoff: { next: () => 1 } } });
  open.push(client);
  return client;
}

describe('a keyed call whose answer is lost', () => {
  test('every first answer lost, every replay arrives: all paid, and neither breaker nor budget counts a failure', async () => {
    const store = new Set<string>();
    const a = keyedServer(store, (_n, replay) => !replay);
    const b = keyedServer(store, (_n, replay) => !replay);
    const client = await paymentClient(a.server, b.server);

    const outcomes: string[] = [];
    for (let i = 0; i < 30; i++) outcomes.push(await pay(client, `order-${i}`));

    expect(outcomes.every((o) => o === '201')).toBe(true);
    expect(a.requests() + b.requests()).toBe(60); // each order: the charge, then its replay
    const snapshot = client.snapshot();
    for (const endpoint of snapshot.pool!.endpoints) {
      expect(endpoint.failures).toBe(0);
      expect(endpoint.window.failures).toBe(0);
    }
    // 30 calls, each a lost answer shown done and its replay: the bucket never drained.
    expect(snapshot.retryBudget!.tokens).toBe(10);
    expect(snapshot.retryBudget!.retries).toBe(30);
  });

  test('a retry answered afresh (no replay) shows the first attempt never ran: a failure of its endpoint', async () => {
    const store = new Set<string>();
    // Loses the first request it gets and never replays: the retry elsewhere runs anew.
    const a = keyedServer(store, (n) => n === 1, false);
    const b = keyedServer(store, () => false, false);
    const client = await paymentClient(a.server, b.server);

    const outcomes: string[] = [];
    for (let i = 0; i < 6; i++) outcomes.push(await pay(client, `order-${i}`));

    expect(outcomes.every((o) => o === '201')).toBe(true);
    const failures = client.snapshot().pool!.endpoints.map((e) => e.failures);
    expect(failures.reduce((x, y) => x + y, 0)).toBe(1);
    expect(client.snapshot().retryBudget!.tokens).toBeLessThan(10);
  });

  test('answers lost for good: the calls fail, each counts once in the budget, and retries stop once the bucket is half empty', async () => {
    const store = new Set<string>();
    const a = keyedServer(store, () => true);
    const endpoint = await listen(a.server);
    open.push(closeServer(a.server));
    const client = createClient({ name: 'payment', baseUrl: `http://${endpoint}`, timeout: 2_000, throwOnHttpError: false, breaker: { consecutiveFailures: Infinity, minimumCalls: 1_000 }, throttle: false, retry: { backoff: { next: () => 1 } } });
    open.push(client);

    const outcomes: string[] = [];
    for (let i = 0; i < 12; i++) outcomes.push(await pay(client, `order-${i}`));

    expect(outcomes.every((o) => o === 'SOCKET' || o === 'RETRY_BUDGET_EXHAUSTED')).toBe(true);
    expect(outcomes).toContain('RETRY_BUDGET_EXHAUSTED');
    // Retries while more than half the 10 tokens remain: 5 calls of 3 attempts, then single attempts.
    expect(a.requests()).toBe(5 * 3 + 7);
    expect(client.snapshot().retryBudget!.tokens).toBe(0);
    // Each attempt still counts as a failure of the endpoint.
    expect(client.snapshot().breaker!.failures).toBe(5 * 3 + 7);
  });

  test('an unkeyed call (GET) whose connection closes is a failure at once, as before', async () => {
    let n = 0;
    const server = createServer((_req, res) => {
      n++;
      res.socket!.destroy();
    });
    const endpoint = await listen(server);
    open.push(closeServer(server));
    const client = createClient({ name: 'dep', baseUrl: `http://${endpoint}`, timeout: 2_000, retry: { maxAttempts: 1 } });
    open.push(client);
    await expect(client.get('/x')).rejects.toMatchObject({ code: 'SOCKET' });
    expect(n).toBe(1);
    expect(client.snapshot().breaker!.failures).toBe(1);
  });
});

import { Discovery, StaticResolver, type Balancer } from '@lifeline/discovery';
import { afterEach, describe, expect, it } from 'vitest';
import { createClient, type LifelineClient } from '../src/index.ts';
import { closedPort, quickBackoff, startServer, type TestServer, countConcurrently } from './servers.ts';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

/** Runs `total` idempotent GETs, `concurrency` at a time; returns how many got a 200. */
async function drive(client: LifelineClient, total: number, concurrency: number): Promise<number> {
  return countConcurrently(total, concurrency, async () => {
    const res = await client.get('/work');
    await res.body.dump();
    return res.status === 200;
  });
}

describe('a small pool with the default options', () => {
  it('1 of 3 healthy (one refusing connections, one answering 500): ≥ 95 % of calls succeed and the refusing endpoint gets few attempts', async () => {
    const servers: TestServer[] = await Promise.all([
      startServer((_req, res) => res.end('ok')),
      startServer((_req, res) => {
        res.statusCode = 500;
        res.end('broken');
      }),
    ]);
    for (const s of servers) cleanup.push(() => s.close());
    const [healthy, failing] = servers as [TestServer, TestServer];
    const refusing = `127.0.0.1:${await closedPort()}`;
    const discovery = new Discovery({
      resolver: new StaticResolver({ services: { payment: [refusing, `127.0.0.1:${failing.port}`, `127.0.0.1:${healthy.port}`] } }),
    });
    const client = createClient({ service: 'payment', discovery });
    cleanup.push(
      () => discovery.close(),
      () => client.close(),
    );

    const ok = await drive(client, 200, 4);
    const byAddress = new Map(discovery.snapshot().services[0]!.endpoints.map((e) => [e.address, e]));
    const refused = byAddress.get(refusing)!.requests;
    // The calls it answered; discovery's health checks of its open breaker are not calls.
    const answered500 = failing.seen.filter((r) => r.url === '/work').length;
    expect(ok).toBeGreaterThanOrEqual(190);
    // Until its breaker opens (5 failures in a row) and then nothing but the odd probe.
    expect(refused).toBeLessThanOrEqual(12);
    expect(answered500).toBeLessThanOrEqual(12);
    expect(healthy.seen.filter((r) => r.url === '/work').length).toBeGreaterThanOrEqual(ok);
  });

  it('a retry never goes back to an endpoint the call already failed on while another can take it', async () => {
    const servers: TestServer[] = await Promise.all([
      startServer((_req, res) => {
        res.statusCode = 500;
        res.end('broken');
      }),
      startServer((_req, res) => res.end('ok')),
    ]);
    for (const s of servers) cleanup.push(() => s.close());
    const [failing, healthy] = servers as [TestServer, TestServer];
    const refusing = `127.0.0.1:${await closedPort()}`;
    const tried = new Map<string, number>();
    // Always the first endpoint in the list that may take the attempt: refusing, then 500, then healthy.
    const inOrder: Balancer = {
      name: 'in-order',
      pick(candidates, context) {
        for (const e of candidates) if (context.accepts(e)) return e;
        return undefined;
      },
    };
    const discovery = new Discovery({
      resolver: new StaticResolver({ services: { payment: [refusing, `127.0.0.1:${failing.port}`, `127.0.0.1:${healthy.port}`] } }),
      balancer: inOrder,
      // Never ejected, so both failing endpoints stay candidates for every call.
      breaker: { consecutiveFailures: Infinity, minimumCalls: 1_000 },
    });
    const client = createClient({ service: 'payment', discovery, retry: { maxAttempts: 3, backoff: quickBackoff, budget: false } });
    cleanup.push(
      () => discovery.close(),
      () => client.close(),
    );
    for (let i = 0; i < 10; i++) {
      const res = await client.get('/work');
      expect(res.status).toBe(200);
      await res.body.dump();
    }
    for (const e of discovery.snapshot().services[0]!.endpoints) tried.set(e.address, e.requests);
    // Each call: refused, then 500, then — avoiding both, not only the last — the healthy one.
    expect([...tried.values()]).toEqual([10, 10, 10]);
    expect(failing.seen.length).toBe(10);
  });
});

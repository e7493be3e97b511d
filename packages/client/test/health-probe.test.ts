import { Discovery, StaticResolver, type DiscoveryOptions } from '@lifeline/discovery';
import { afterEach, describe, expect, it } from 'vitest';
import { createClient, type LifelineClient } from '../src/index.ts';
import { countConcurrently, startServer, type TestServer } from './servers.ts';

// Discovery's active health check seen through a client: an endpoint ejected while its route
// failed comes back as soon as its readiness route answers 2xx, not when its break (30 s here)
// ends. Real servers on port 0; waits poll with generous caps.

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Two payment instances; the second's `/charges` fails while `fault.on`; both are always ready. */
async function setup(healthCheck: DiscoveryOptions['healthCheck']) {
  const fault = { on: true };
  const served = [0, 0];
  const servers: TestServer[] = await Promise.all(
    [0, 1].map((i) =>
      startServer((req, res) => {
        if (req.url === '/health/ready') return void res.end('{}');
        served[i]!++;
        res.statusCode = i === 1 && fault.on ? 500 : 200;
        res.end();
      }),
    ),
  );
  const discovery = new Discovery({
    resolver: new StaticResolver({ services: { payment: servers.map((s) => `127.0.0.1:${s.port}`) } }),
    breaker: { breakDuration: 30_000, consecutiveFailures: 1 },
    healthCheck,
  });
  const client = createClient({ service: 'payment', discovery, retry: { backoff: { next: () => 5 } } });
  cleanup.push(
    ...servers.map((s) => () => s.close()),
    () => discovery.close(),
    () => client.close(),
  );
  const second = (): { breaker: string; ejected: boolean } => discovery.snapshot().services[0]!.endpoints[1]!;
  return { fault, served, servers, discovery, client, second };
}

/** `total` charges, 4 at a time; how many got a 200. */
function charge(client: LifelineClient, total: number): Promise<number> {
  return countConcurrently(total, 4, async () => {
    const res = await client.get('/charges');
    await res.body.dump();
    return res.status === 200;
  });
}

describe('createClient over a Discovery with the health check', () => {
  it('sends charges to a recovered endpoint again within a few check intervals, with a 30 s break', async () => {
    const { fault, served, client, second } = await setup({ intervalMs: 100 });
    while (second().breaker !== 'open') expect(await charge(client, 8)).toBe(8); // retries land on the first
    expect(second().ejected).toBe(true);

    fault.on = false;
    const before = served[1]!;
    const until = performance.now() + 10_000;
    while (!(second().breaker === 'closed' && served[1]! > before) && performance.now() < until) {
      await charge(client, 8);
      await sleep(20);
    }
    expect(second().breaker).toBe('closed');
    expect(served[1]!).toBeGreaterThan(before);
  });

  it('without it, the recovered endpoint gets no charge while its break lasts', async () => {
    const { fault, served, client, second } = await setup(false);
    while (second().breaker !== 'open') expect(await charge(client, 8)).toBe(8);
    fault.on = false;
    const before = served[1]!;
    const until = performance.now() + 1_500;
    while (performance.now() < until) {
      expect(await charge(client, 8)).toBe(8);
      await sleep(20);
    }
    expect(second()).toMatchObject({ breaker: 'open', ejected: true });
    expect(served[1]).toBe(before);
  });
});

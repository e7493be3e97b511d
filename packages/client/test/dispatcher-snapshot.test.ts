import { Discovery, StaticResolver } from '@lifeline/discovery';
import { fetch } from 'undici';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createDispatcher, type ClientSnapshot, type LifelineDispatcher } from '../src/index.ts';
import { catchError, countConcurrently, startServer, type TestServer } from './servers.ts';

// The dispatcher's face of snapshot(): the same state as the client's and the interceptor's.

const cleanup: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function server(handler: Parameters<typeof startServer>[0]): Promise<TestServer> {
  const s = await startServer(handler);
  cleanup.push(() => s.close());
  return s;
}

function track(dispatcher: LifelineDispatcher): LifelineDispatcher {
  cleanup.push(() => dispatcher.destroy());
  return dispatcher;
}

/** The snapshot after a trip through JSON: what a dashboard receives. */
function asJson(dispatcher: LifelineDispatcher): ClientSnapshot {
  const snapshot = dispatcher.snapshot();
  const json = JSON.parse(JSON.stringify(snapshot)) as ClientSnapshot;
  expect(json).toEqual(snapshot); // plain data: nothing lost on the way
  return json;
}

describe('createDispatcher().snapshot()', () => {
  it('reports calls in flight and the bulkhead while a fetch waits, the open breaker after failures', async () => {
    let release: (() => void) | undefined;
    const s = await server((req, res) => {
      if (req.url === '/slow') release = () => res.end('late');
      else res.writeHead(503).end('down');
    });
    const dispatcher = track(
      createDispatcher({ name: 'payment', baseUrl: s.url, retry: { maxAttempts: 1 }, breaker: { consecutiveFailures: 2, minimumCalls: 1_000 }, bulkhead: { maxConcurrent: 4, maxQueue: 2 } }),
    );
    expect(asJson(dispatcher)).toMatchObject({ name: 'payment', inFlight: 0, breaker: { state: 'closed' }, bulkhead: { inFlight: 0, queued: 0 }, retryBudget: { exhausted: false } });

    const slow = fetch(`${s.url}/slow`, { dispatcher });
    await vi.waitFor(() => expect(release).toBeDefined());
    expect(asJson(dispatcher)).toMatchObject({ inFlight: 1, bulkhead: { inFlight: 1, queued: 0 } });
    release!();
    expect(await (await slow).text()).toBe('late');

    for (let i = 0; i < 2; i++) expect((await fetch(`${s.url}/fail`, { dispatcher })).status).toBe(503);
    const refused = await catchError(fetch(`${s.url}/fail`, { dispatcher }));
    expect((refused as Error).cause).toMatchObject({ code: 'CIRCUIT_OPEN' });
    const after = asJson(dispatcher);
    expect(after).toMatchObject({ inFlight: 0, breaker: { state: 'open' }, bulkhead: { inFlight: 0, queued: 0 } });
    expect(after.pool).toBeUndefined();
  });

  it('with discovery, reports every endpoint: the failing one ejected', async () => {
    const good = await server((_req, res) => res.end('ok'));
    const bad = await server((_req, res) => res.writeHead(503).end('down'));
    const discovery = new Discovery({
      resolver: new StaticResolver({ services: { payment: [`127.0.0.1:${good.port}`, `127.0.0.1:${bad.port}`] } }),
      breaker: { minimumCalls: 1_000, consecutiveFailures: 2 },
    });
    cleanup.push(() => discovery.close());
    const dispatcher = track(createDispatcher({ service: 'payment', discovery, retry: { maxAttempts: 1 } }));
    await countConcurrently(40, 4, async () => {
      await (await fetch('http://payment/work', { dispatcher })).arrayBuffer();
      return true;
    });
    const snapshot = asJson(dispatcher);
    expect(snapshot).toMatchObject({ name: 'payment', inFlight: 0, bulkhead: { inFlight: 0, queued: 0 }, pool: { service: 'payment', healthy: 1, ejected: 1 } });
    expect(snapshot.breaker).toBeUndefined(); // with discovery, each endpoint has its own breaker
    const byAddress = Object.fromEntries(snapshot.pool!.endpoints.map((e) => [e.address, e]));
    expect(byAddress[`127.0.0.1:${bad.port}`]).toMatchObject({ breaker: 'open', ejected: true });
    expect(byAddress[`127.0.0.1:${good.port}`]).toMatchObject({ breaker: 'closed', ejected: false });
  });
});

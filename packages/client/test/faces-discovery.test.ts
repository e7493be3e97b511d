import { isLifelineError } from '@lifeline/core';
import { Discovery, StaticResolver, type DiscoveryOptions } from '@lifeline/discovery';
import { fetch, type Dispatcher } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { createDispatcher, type DispatcherOptions } from '../src/index.ts';
import { catchError, quickBackoff, startServer, type TestServer, countConcurrently } from './servers.ts';

// Discovery through fetch(): a dispatcher made with `service` and `discovery` routes every
// request to one of the service's endpoints, picked per attempt (P2C, ejection, a retry to
// another endpoint). The URL names the service — `http://payment/charges` — and its origin
// is replaced by the picked endpoint's. The client's own face is tested in discovery.test.ts.

const cleanup: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function servers(...handlers: Parameters<typeof startServer>[0][]): Promise<TestServer[]> {
  const list = await Promise.all(handlers.map((h) => startServer(h)));
  for (const s of list) cleanup.push(() => s.close());
  return list;
}

function setup(targets: TestServer[], discoveryOptions: Partial<DiscoveryOptions> = {}, options: Partial<DispatcherOptions> = {}) {
  const resolver = new StaticResolver({ services: { payment: targets.map((s) => `127.0.0.1:${s.port}`) } });
  const discovery = new Discovery({ resolver, ...discoveryOptions });
  const dispatcher = createDispatcher({ service: 'payment', discovery, retry: { backoff: quickBackoff }, ...options });
  cleanup.push(() => discovery.close(), () => dispatcher.destroy());
  return { discovery, dispatcher };
}

/** Runs `total` fetches of http://payment/work, `concurrency` at a time; returns how many got a 200. */
async function drive(dispatcher: Dispatcher, total: number, concurrency: number): Promise<number> {
  return countConcurrently(total, concurrency, async () => {
    const res = await fetch('http://payment/work', { dispatcher });
    await res.arrayBuffer();
    return res.status === 200;
  });
}

const fast = (_req: unknown, res: { end: (s: string) => void }): void => res.end('ok');

describe('fetch() with service + discovery', () => {
  it('http://payment/… reaches the endpoints, path and query kept; P2C sends a slow endpoint clearly less', async () => {
    const [a, b, slow] = await servers(fast, fast, (_req, res) => void setTimeout(() => res.end('slow'), 150));
    const { dispatcher } = setup([a!, b!, slow!]);
    const res = await fetch('http://payment/charges?id=7', { dispatcher });
    expect(res.status).toBe(200);
    const first = [a!, b!, slow!].find((s) => s.seen.length === 1)!;
    expect(first.seen[0]!.url).toBe('/charges?id=7');
    expect(first.seen[0]!.headers.host).toBe(`127.0.0.1:${first.port}`);

    expect(await drive(dispatcher, 300, 8)).toBe(300);
    // Less than half of either fast one's share (a third on a quiet machine; a loaded one slows the fast ones too).
    expect(slow!.seen.length).toBeLessThan(Math.min(a!.seen.length, b!.seen.length) / 2);
    expect(Math.min(a!.seen.length, b!.seen.length)).toBeGreaterThan(60);
  });

  it('a 503 is retried on another endpoint: every fetch gets its 200', async () => {
    const [down, up] = await servers((_req, res) => {
      res.statusCode = 503;
      res.end();
    }, fast);
    const { dispatcher } = setup([down!, up!], { breaker: { consecutiveFailures: Infinity, minimumCalls: 1_000 } }, { retry: { maxAttempts: 2, backoff: quickBackoff, budget: false } });
    for (let i = 0; i < 30; i++) {
      const res = await fetch('http://payment/x', { dispatcher });
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    }
    expect(down!.seen.length).toBeGreaterThan(0); // it was tried, and every retry went elsewhere
  });

  it('a failing endpoint is ejected and then gets nothing while the others take the traffic', async () => {
    const [a, b, broken] = await servers(fast, fast, (_req, res) => {
      res.statusCode = 503;
      res.end('down');
    });
    const { discovery, dispatcher } = setup([a!, b!, broken!], { breaker: { consecutiveFailures: 1, breakDuration: 60_000 } });
    const brokenState = () => discovery.snapshot().services[0]!.endpoints.find((e) => e.address === `127.0.0.1:${broken!.port}`)!;
    for (let i = 0; i < 50 && !brokenState().ejected; i++) expect(await drive(dispatcher, 10, 2)).toBe(10);
    expect(brokenState()).toMatchObject({ ejected: true });
    const before = broken!.seen.length;
    expect(await drive(dispatcher, 60, 2)).toBe(60);
    expect(broken!.seen.length).toBe(before);
  });

  it('NO_ENDPOINTS and CIRCUIT_OPEN reach fetch as the cause of its failure', async () => {
    const resolver = new StaticResolver({ services: { payment: [] } });
    const discovery = new Discovery({ resolver });
    const dispatcher = createDispatcher({ service: 'payment', discovery });
    cleanup.push(() => discovery.close(), () => dispatcher.destroy());
    const error = await catchError(fetch('http://payment/x', { dispatcher }));
    expect(isLifelineError((error as Error).cause, 'NO_ENDPOINTS')).toBe(true);

    const [x] = await servers((_req, res) => {
      res.statusCode = 500;
      res.end();
    });
    const failing = setup([x!], { breaker: { consecutiveFailures: 1, breakDuration: 60_000 } }, { retry: false });
    expect((await fetch('http://payment/', { dispatcher: failing.dispatcher })).status).toBe(500);
    const open = await catchError(fetch('http://payment/', { dispatcher: failing.dispatcher }));
    expect(isLifelineError((open as Error).cause, 'CIRCUIT_OPEN')).toBe(true);
  });

  it('a URL naming another host is refused, not sent to the service', async () => {
    const [s] = await servers(fast);
    const { dispatcher } = setup([s!]);
    const error = await catchError(fetch('http://orders/x', { dispatcher }));
    expect(((error as Error).cause as Error).message).toMatch(/sends to http:\/\/payment \(the service it routes to\); a request for "http:\/\/orders" is refused/);
    expect(s!.seen).toHaveLength(0);
  });
});

import { createServer, get, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Discovery, type DiscoveryOptions, type Endpoint, type ServicePool, StaticResolver } from '../src/index.ts';
import { trackTimers } from './timers.ts';

// Real servers on 127.0.0.1, port 0, and real requests: a real route (`/work`) that fails while
// told to, and a readiness route (`/health/ready`) answering what it is told to. Breaks are long
// (30 s) so that only the health check can bring an endpoint back within a test; waits poll with
// generous caps, never a tight threshold.

interface Backend {
  address: string;
  /** The real route answers 500 while true. */
  failing: boolean;
  /** What the readiness route answers; `hang`: nothing, ever. */
  ready: number | 'hang';
  /** Requests to the readiness route so far. */
  checks: number;
  close(): Promise<void>;
}

async function backend(): Promise<Backend> {
  const hanging = new Set<ServerResponse>();
  const state: Backend = {
    address: '',
    failing: false,
    ready: 200,
    checks: 0,
    close: async () => {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server = createServer((req, res) => {
    if (req.url === '/health/ready') {
      state.checks++;
      if (state.ready === 'hang') hanging.add(res);
      else res.writeHead(state.ready).end('{}');
      return;
    }
    res.writeHead(state.failing ? 500 : 200).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return state;
}

const backends: Backend[] = [];
const discoveries: Discovery[] = [];
afterEach(async () => {
  for (const d of discoveries.splice(0)) await d.close();
  await Promise.all(backends.splice(0).map((b) => b.close()));
});

async function setup(n: number, options: Partial<DiscoveryOptions> = {}) {
  const servers = await Promise.all(Array.from({ length: n }, () => backend()));
  backends.push(...servers);
  const discovery = new Discovery({
    resolver: new StaticResolver({ services: { payment: servers.map((s) => s.address) } }),
    breaker: { consecutiveFailures: 2, breakDuration: 30_000, halfOpenProbes: 1 },
    healthCheck: { intervalMs: 100 },
    ...options,
  });
  discoveries.push(discovery);
  const pool = discovery.pool('payment');
  return { servers, discovery, pool, endpoints: pool.endpoints };
}

/** GET `url` with a connection of its own; the status, or 0 when the request failed. */
function status(url: string): Promise<number> {
  return new Promise((resolve) => {
    get(url, { agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    }).on('error', () => resolve(0));
  });
}

/** One attempt through the pool, as the client makes it: to `endpoint`, or wherever the pool picks. */
async function attempt(pool: ServicePool, endpoint = pool.pick()): Promise<Endpoint | undefined> {
  if (endpoint === undefined) return undefined;
  const ticket = pool.begin(endpoint);
  const started = performance.now();
  const code = await status(`${endpoint.origin}/work`);
  const ms = performance.now() - started;
  if (code === 0 || code >= 500) pool.failed(endpoint, ticket, ms, new Error(`HTTP ${code}`));
  else pool.succeeded(endpoint, ticket, ms);
  return endpoint;
}

/** Fails attempts on `endpoint` (its server failing) until its breaker opens. */
async function eject(pool: ServicePool, endpoint: Endpoint, server: Backend): Promise<void> {
  server.failing = true;
  while (!endpoint.failing) await attempt(pool, endpoint);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `condition` every 20 ms until it holds, at most `capMs`; whether it held. */
async function eventually(condition: () => boolean | Promise<boolean>, capMs: number): Promise<boolean> {
  const until = performance.now() + capMs;
  for (;;) {
    if (await condition()) return true;
    if (performance.now() > until) return false;
    await sleep(20);
  }
}

/** Traffic through the pool for a moment; true once `endpoint` took attempts with its breaker closed. */
async function inUse(pool: ServicePool, endpoint: Endpoint): Promise<boolean> {
  const picked = await Promise.all(Array.from({ length: 6 }, () => attempt(pool)));
  return endpoint.breaker.state === 'closed' && picked.includes(endpoint);
}

describe('active health check of open endpoints', () => {
  it('brings an endpoint back within a few check intervals of its recovery, not when its 30 s break ends', async () => {
    const { servers, pool, endpoints } = await setup(2);
    const [, b] = endpoints;
    await eject(pool, b!, servers[1]!);
    expect(pool.snapshot().endpoints[1]).toMatchObject({ ejected: true, breaker: 'open' });
    // While it fails, a check may end its break, but its next attempt opens it again.
    await sleep(300);
    await Promise.all(Array.from({ length: 10 }, () => attempt(pool)));
    expect(b!.breaker.state).not.toBe('closed');

    servers[1]!.failing = false;
    const recovered = performance.now();
    expect(await eventually(() => inUse(pool, b!), 10_000)).toBe(true);
    const backAfterMs = performance.now() - recovered;
    expect(backAfterMs).toBeLessThan(10_000); // the break alone would keep it out for 30 s or more
    const snapshot = pool.snapshot();
    expect(snapshot.healthChecks).toMatchObject({ healthy: expect.any(Number) });
    expect((snapshot.healthChecks as { healthy: number }).healthy).toBeGreaterThanOrEqual(1);
    expect(snapshot.endpoints[1]!.healthChecks.healthy).toBeGreaterThanOrEqual(1);
    expect(snapshot.endpoints[0]!.healthChecks.sent).toBe(0); // never open: never checked

    // Healthy again: no more checks.
    const checks = servers[1]!.checks;
    await sleep(500);
    expect(servers[1]!.checks).toBe(checks);
    expect(servers[0]!.checks).toBe(0);
  });

  it('without it, the recovered endpoint stays out for its break', async () => {
    const { servers, pool, endpoints } = await setup(2, { healthCheck: false });
    const [, b] = endpoints;
    await eject(pool, b!, servers[1]!);
    servers[1]!.failing = false;
    const until = performance.now() + 1_500;
    while (performance.now() < until) {
      expect(await inUse(pool, b!)).toBe(false);
      await sleep(20);
    }
    expect(pool.snapshot().endpoints[1]).toMatchObject({ ejected: true, breaker: 'open', healthChecks: { sent: 0, healthy: 0 } });
    expect(pool.snapshot().healthChecks).toBe(false);
    expect(servers[1]!.checks).toBe(0);
  });

  it('a health route answering 503 keeps the endpoint out', async () => {
    const { servers, pool, endpoints } = await setup(2);
    const [, b] = endpoints;
    await eject(pool, b!, servers[1]!);
    servers[1]!.failing = false;
    servers[1]!.ready = 503;
    expect(await eventually(() => servers[1]!.checks >= 4, 10_000)).toBe(true);
    await Promise.all(Array.from({ length: 10 }, () => attempt(pool)));
    expect(pool.snapshot().endpoints[1]).toMatchObject({ ejected: true, breaker: 'open' });
    expect(b!.requests).toBe(2); // the two failures that opened it
    expect(pool.snapshot().healthChecks).toMatchObject({ healthy: 0 });
  });

  it('a health check that times out or is refused leaves the break as it is', async () => {
    const { servers, pool, endpoints } = await setup(3, { healthCheck: { intervalMs: 50, timeoutMs: 100 } });
    const [, b, c] = endpoints;
    await eject(pool, b!, servers[1]!);
    servers[1]!.ready = 'hang';
    servers[1]!.failing = false;
    await eject(pool, c!, servers[2]!);
    await servers[2]!.close(); // refuses connections from now on
    backends.splice(backends.indexOf(servers[2]!), 1);
    expect(await eventually(() => servers[1]!.checks >= 3 && c!.healthChecksSent >= 3, 10_000)).toBe(true);
    // At most one check in flight per endpoint: each hanging check ended by its timeout before the next.
    expect(b!.healthChecksSent - servers[1]!.checks).toBeLessThanOrEqual(1);
    expect(pool.snapshot().endpoints.map((e) => e.breaker)).toEqual(['closed', 'open', 'open']);
    expect(pool.snapshot().healthChecks).toMatchObject({ healthy: 0 });
  });

  it('never checks an endpoint an operator forced open', async () => {
    const { servers, pool, endpoints } = await setup(3);
    const [, b, c] = endpoints;
    b!.breaker.forceOpen();
    servers[2]!.ready = 503;
    await eject(pool, c!, servers[2]!);
    expect(await eventually(() => servers[2]!.checks >= 3, 10_000)).toBe(true);
    expect(servers[1]!.checks).toBe(0);
    expect(pool.snapshot().endpoints[1]).toMatchObject({ breaker: 'forced-open', healthChecks: { sent: 0, healthy: 0 } });
  });

  it('logs one line when a check brings an endpoint back', async () => {
    const lines: { message: string; fields: object }[] = [];
    const logger = { info: (fields: object, message: string) => lines.push({ message, fields }), warn: () => {} };
    const { servers, pool, endpoints } = await setup(2, { logger });
    const [, b] = endpoints;
    await eject(pool, b!, servers[1]!);
    servers[1]!.failing = false;
    expect(await eventually(() => inUse(pool, b!), 10_000)).toBe(true);
    const returns = lines.filter((l) => l.message === 'discovery: endpoint passed its health check, back on probation');
    expect(returns).toHaveLength(1);
    expect(returns[0]!.fields).toEqual({ service: 'payment', endpoint: b!.id, breaker: 'half-open', reason: 'health-check' });
  });
});

describe('Discovery.close() with health checks running', () => {
  it('leaves no timer and no socket of the checks behind, one in flight included', async () => {
    const { servers, discovery, pool, endpoints } = await setup(2, { healthCheck: { intervalMs: 50, timeoutMs: 10_000 } });
    const sockets = (): number => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;
    const before = sockets();
    const timers = trackTimers();
    try {
      servers[1]!.ready = 'hang';
      await eject(pool, endpoints[1]!, servers[1]!);
      expect(await eventually(() => servers[1]!.checks >= 1, 10_000)).toBe(true);
      expect(endpoints[1]!.healthCheckInFlight).toBe(true);
      expect(timers.pending()).toBeGreaterThan(0);
      await discovery.close();
      expect(timers.pending()).toBe(0);
    } finally {
      timers.restore();
    }
    await servers[1]!.close();
    backends.splice(backends.indexOf(servers[1]!), 1);
    expect(await eventually(() => sockets() <= before, 5_000)).toBe(true);
  });
});

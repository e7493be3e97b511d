import { AdaptiveThrottle } from '@lifeline/breaker';
import { isLifelineError } from '@lifeline/core';
import { Discovery, StaticResolver } from '@lifeline/discovery';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { fetch } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { createClient, createDispatcher, type ClientOptions, type LifelineClient } from '../src/index.ts';
import { catchError, quickBackoff, startServer, type TestServer } from './servers.ts';

// Client-side adaptive throttling (Google SRE, "Handling Overload"), on by default: once a
// dependency accepts less than 1/K of the attempts, attempts are rejected locally with
// THROTTLED, so what still reaches it settles near K × what it accepts. These tests turn the
// breaker off so that the throttle alone answers for what reaches the server.

const cleanup: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function server(handler: Parameters<typeof startServer>[0]): Promise<TestServer> {
  const s = await startServer(handler);
  cleanup.push(() => s.close());
  return s;
}

function client(options: ClientOptions): LifelineClient {
  const c = createClient(options);
  cleanup.push(() => c.destroy());
  return c;
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The outcome of one call: its status, or the code of its Lifeline error. */
async function outcome(c: LifelineClient): Promise<number | string> {
  try {
    const res = await c.get('/work');
    await res.body.dump();
    return res.status;
  } catch (error) {
    if (isLifelineError(error, 'HTTP_STATUS')) return error.status;
    if (isLifelineError(error)) return error.code;
    throw error;
  }
}

describe('adaptive throttling through createClient', () => {
  it('a dependency that answers 503 to everything: after minRequests nine attempts in ten are rejected locally with THROTTLED', async () => {
    const s = await server((_req, res) => res.writeHead(503).end('busy'));
    const c = client({ name: 'search', baseUrl: s.url, breaker: false, retry: false, throttle: { minRequests: 10 } });
    const outcomes: (number | string)[] = [];
    for (let i = 0; i < 300; i++) outcomes.push(await outcome(c));
    const throttled = outcomes.filter((o) => o === 'THROTTLED').length;
    expect(outcomes.slice(0, 10)).toEqual(Array(10).fill(503)); // below minRequests: nothing rejected
    expect(s.seen.length + throttled).toBe(300);
    // With nothing accepted the probability is requests / (requests + 1), capped at 0.9: a tenth
    // of the 290 after minRequests still get through (29 on average).
    expect(s.seen.length).toBeGreaterThan(15);
    expect(s.seen.length).toBeLessThan(70);
    const snapshot = c.snapshot().throttle!;
    expect(snapshot).toMatchObject({ requests: 300, accepts: 0, rejected: throttled, k: 2, windowMs: 5_000, maxRejectionProbability: 0.9 });
    expect(snapshot.rejectionProbability).toBe(0.9);
  });

  it('THROTTLED is not retryable, says nothing was sent, and the retry stage does not retry it', async () => {
    const s = await server((_req, res) => res.writeHead(503).end('busy'));
    const throttle = new AdaptiveThrottle({ minRequests: 1, random: () => 0 }); // rejects whenever the probability is above 0
    const c = client({ name: 'search', baseUrl: s.url, breaker: false, retry: false, throttle });
    await expect(c.get('/work')).rejects.toMatchObject({ code: 'HTTP_STATUS', status: 503 });
    const c2 = client({ name: 'search', baseUrl: s.url, breaker: false, retry: { maxAttempts: 3, backoff: quickBackoff }, throttle });
    const error = await catchError(c2.get('/work'));
    expect(error).toMatchObject({ code: 'THROTTLED', retryable: false, attempts: 0, probability: 0.5 });
    expect((error as { retryAfterMs: number }).retryAfterMs).toBeGreaterThan(0);
    expect(s.seen).toHaveLength(1);
    expect(throttle.snapshot()).toMatchObject({ requests: 2, accepts: 0, rejected: 1 });
  });

  it('the answer wins: a call whose retry meets the throttle ends with the 503 it already got, body and headers', async () => {
    const s = await server((_req, res) => res.writeHead(503, { 'x-from': 'server' }).end('{"error":"busy"}'));
    const throttle = new AdaptiveThrottle({ minRequests: 1, random: () => 0 });
    const c = client({ name: 'search', baseUrl: s.url, breaker: false, retry: { maxAttempts: 3, backoff: quickBackoff }, throttle });
    const error = await catchError(c.get('/work'));
    expect(error).toMatchObject({ code: 'HTTP_STATUS', status: 503, body: '{"error":"busy"}', attempts: 1 });
    expect((error as { headers: Record<string, string> }).headers['x-from']).toBe('server');
    expect(s.seen).toHaveLength(1);
    expect(throttle.rejected).toBe(1);
  });

  it('a healthy dependency is never throttled; a 500 is accepted work, a 429 is not', async () => {
    let status = 200;
    const s = await server((_req, res) => res.writeHead(status).end());
    const c = client({ name: 'search', baseUrl: s.url, breaker: false, retry: false, throttle: { minRequests: 0 }, throwOnHttpError: false });
    for (let i = 0; i < 100; i++) expect(await outcome(c)).toBe(200);
    status = 500;
    for (let i = 0; i < 100; i++) expect(await outcome(c)).toBe(500);
    expect(c.snapshot().throttle).toMatchObject({ requests: 200, accepts: 200, rejectionProbability: 0, rejected: 0 });
    status = 429;
    for (let i = 0; i < 50; i++) expect(await outcome(c)).toBe(429);
    expect(c.snapshot().throttle).toMatchObject({ requests: 250, accepts: 200, rejectionProbability: 0 }); // 200 ≥ 250 / 2
    for (let i = 0; i < 200; i++) await outcome(c);
    expect(c.snapshot().throttle!.accepts).toBe(200);
    expect(c.snapshot().throttle!.rejectionProbability).toBeGreaterThan(0);
  });

  it('connection refused counts as not accepted', async () => {
    const s = await server((_req, res) => res.end());
    const url = s.url;
    await s.close();
    const c = client({ name: 'search', baseUrl: url, breaker: false, retry: false, throttle: { minRequests: 5 } });
    const outcomes: (number | string)[] = [];
    for (let i = 0; i < 60; i++) outcomes.push(await outcome(c));
    expect(outcomes.slice(0, 5)).toEqual(Array(5).fill('CONNECT'));
    expect(outcomes.filter((o) => o === 'THROTTLED').length).toBeGreaterThan(30);
    expect(c.snapshot().throttle!.accepts).toBe(0);
  });

  it('against a dependency that takes a third of the offered load, about K × what it accepts reaches it', async () => {
    // Capacity in proportion to the load offered: the server accepts a request only while it
    // has accepted less than a third of the calls made so far, and answers 503 otherwise.
    let offered = 0;
    let accepted = 0;
    const s = await server((_req, res) => {
      if (accepted * 3 < offered) {
        accepted++;
        res.writeHead(200).end();
      } else res.writeHead(503).end();
    });
    const c = client({ name: 'search', baseUrl: s.url, breaker: false, retry: false, throttle: { minRequests: 10 } });
    for (let i = 0; i < 1_500; i++) {
      offered++;
      await outcome(c);
    }
    const reached = s.seen.length;
    // K = 2: the requests that reach it are about twice what it accepts; the rest (about a third) are rejected here.
    expect(reached / accepted).toBeGreaterThan(1.6);
    expect(reached / accepted).toBeLessThan(2.4);
    expect(c.snapshot().throttle!.rejected).toBeGreaterThan(300);
  });

  it('when the dependency recovers, the throttle lets traffic back within a few windows', async () => {
    let healthy = false;
    const s = await server((_req, res) => res.writeHead(healthy ? 200 : 503).end());
    const c = client({ name: 'search', baseUrl: s.url, breaker: false, retry: false, throttle: { windowMs: 500, minRequests: 10 } });
    for (let i = 0; i < 200; i++) await outcome(c);
    expect(c.snapshot().throttle!.rejectionProbability).toBe(0.9); // the default cap
    healthy = true;
    // A call every 2 ms until twenty in a row are answered 200; bounded by the number of calls.
    let inARow = 0;
    let calls = 0;
    while (inARow < 20 && calls < 10_000) {
      calls++;
      inARow = (await outcome(c)) === 200 ? inARow + 1 : 0;
      await pause(2);
    }
    expect(inARow).toBe(20);
    expect(c.snapshot().throttle!.accepts).toBeGreaterThan(0);
  });

  it('is on by default; false turns it off', async () => {
    const s = await server((_req, res) => res.writeHead(503).end());
    const on = client({ name: 'search', baseUrl: s.url });
    expect(on.snapshot().throttle).toMatchObject({ requests: 0, accepts: 0, rejectionProbability: 0, k: 2, windowMs: 5_000, maxRejectionProbability: 0.9 });
    const off = client({ name: 'search', baseUrl: s.url, breaker: false, retry: false, throttle: false });
    expect(off.snapshot().throttle).toBeUndefined();
    for (let i = 0; i < 100; i++) expect(await outcome(off)).toBe(503);
    expect(s.seen).toHaveLength(100);
  });

  it('validates the option at construction, naming it', () => {
    const baseUrl = 'http://127.0.0.1:1';
    expect(() => createClient({ baseUrl, throttle: { k: 0.5 } })).toThrow(/`throttle.k` must be >= 1, got 0.5/);
    expect(() => createClient({ baseUrl, throttle: { windowMs: -1 } })).toThrow(/`throttle.windowMs`/);
    expect(() => createClient({ baseUrl, throttle: { minRequests: 1.5 } })).toThrow(/`throttle.minRequests` must be an integer/);
    expect(() => createClient({ baseUrl, throttle: { kk: 2 } as never })).toThrow(/unknown option `throttle.kk`/);
    expect(() => createClient({ baseUrl, throttle: { random: () => 0 } as never })).toThrow(/unknown option `throttle.random`/);
    expect(() => createClient({ baseUrl, throttle: 2 as never })).toThrow(/`throttle` must be an object/);
    expect(() => createDispatcher({ throttle: { k: 0 } })).toThrow(/`throttle.k`/);
  });
});

describe('adaptive throttling through fetch() with createDispatcher()', () => {
  it('a 503 dependency: fetch gets the 503s that were sent, then rejects with THROTTLED as the cause; the metric counts them', async () => {
    const s = await server((_req, res) => res.writeHead(503).end('busy'));
    const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
    const meterProvider = new MeterProvider({ readers: [reader] });
    cleanup.push(() => meterProvider.shutdown());
    const dispatcher = createDispatcher({ name: 'search', baseUrl: s.url, breaker: false, retry: false, throttle: { minRequests: 10 }, meterProvider });
    cleanup.push(() => dispatcher.destroy());
    let statuses = 0;
    let throttled = 0;
    for (let i = 0; i < 200; i++) {
      try {
        const res = await fetch(`${s.url}/work`, { dispatcher });
        await res.arrayBuffer();
        expect(res.status).toBe(503);
        statuses++;
      } catch (error) {
        expect(error).toBeInstanceOf(TypeError);
        expect(isLifelineError((error as Error).cause, 'THROTTLED')).toBe(true);
        throttled++;
      }
    }
    expect(statuses).toBe(s.seen.length);
    expect(statuses).toBeLessThan(60); // 10, then a tenth of the 190 others (the cap): 29 on average
    expect(throttled).toBe(200 - statuses);
    expect(dispatcher.snapshot().throttle).toMatchObject({ requests: 200, accepts: 0, rejected: throttled });
    await reader.forceFlush();
    const points = new Map<string, [unknown, unknown][]>();
    for (const resource of exporter.getMetrics()) {
      for (const scope of resource.scopeMetrics) {
        for (const metric of scope.metrics) {
          const list = metric.dataPoints.map((point): [unknown, unknown] => [point.attributes['lifeline.service'], point.value]);
          points.set(metric.descriptor.name, list);
        }
      }
    }
    expect(points.get('lifeline.client.throttled')).toEqual([['search', throttled]]);
    const gauge = points.get('lifeline.throttle.rejection_probability')!;
    expect(gauge).toHaveLength(1);
    expect(gauge[0]![0]).toBe('search');
    expect(gauge[0]![1]).toBe(0.9);
  });

  it('the answer wins: a fetch whose retry is throttled receives the 503 response itself', async () => {
    const s = await server((_req, res) => res.writeHead(503, { 'x-from': 'server' }).end('busy'));
    const throttle = new AdaptiveThrottle({ minRequests: 1, random: () => 0 });
    const dispatcher = createDispatcher({ baseUrl: s.url, breaker: false, retry: { backoff: quickBackoff }, throttle });
    cleanup.push(() => dispatcher.destroy());
    const res = await fetch(`${s.url}/work`, { dispatcher });
    expect(res.status).toBe(503);
    expect(res.headers.get('x-from')).toBe('server');
    expect(await res.text()).toBe('busy');
    expect(s.seen).toHaveLength(1);
    expect(throttle.rejected).toBe(1);
  });

  it('with discovery, one throttle for the service, fed by every endpoint', async () => {
    const tooMany = (_req: unknown, res: { writeHead: (s: number) => { end: () => void } }): void => res.writeHead(429).end();
    const [a, b] = [await server(tooMany), await server(tooMany)];
    const resolver = new StaticResolver({ services: { payment: [`127.0.0.1:${a.port}`, `127.0.0.1:${b.port}`] } });
    const discovery = new Discovery({ resolver });
    const dispatcher = createDispatcher({ service: 'payment', discovery, retry: false, throttle: { minRequests: 10 } });
    cleanup.push(() => discovery.close(), () => dispatcher.destroy());
    let throttled = 0;
    for (let i = 0; i < 100; i++) {
      try {
        await (await fetch('http://payment/work', { dispatcher })).arrayBuffer();
      } catch (error) {
        if (isLifelineError((error as Error).cause, 'THROTTLED')) throttled++;
      }
    }
    const reached = a.seen.length + b.seen.length;
    expect(a.seen.length).toBeGreaterThan(0);
    expect(b.seen.length).toBeGreaterThan(0);
    expect(reached + throttled).toBe(100);
    expect(reached).toBeLessThan(40); // 10, then a tenth of the 90 others (the cap): 19 on average
    expect(dispatcher.snapshot().throttle).toMatchObject({ requests: 100, accepts: 0 });
  });
});

import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { createNoopMeter, metrics, type MeterProvider as ApiMeterProvider } from '@opentelemetry/api';
import { DataPointType, MeterProvider, MetricReader, type DataPoint, type Histogram, type MetricData } from '@opentelemetry/sdk-metrics';
import { afterEach, describe, expect, it } from 'vitest';
import { ServerMetrics, type ServerGauges } from '../src/metrics.ts';
import type { LifelineState } from '../src/options.ts';
import { gate, rawConnection, send, startServer, waitFor } from './helpers.ts';

/** A reader the test collects from on demand (cumulative, the SDK's default). */
class TestReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function sdk(): { provider: MeterProvider; collect: () => Promise<Map<string, MetricData>> } {
  const reader = new TestReader();
  const provider = new MeterProvider({ readers: [reader] });
  cleanups.push(() => provider.shutdown());
  return {
    provider,
    collect: async () => {
      const { resourceMetrics, errors } = await reader.collect();
      expect(errors).toEqual([]);
      const found = new Map<string, MetricData>();
      for (const scope of resourceMetrics.scopeMetrics) {
        expect(scope.scope.name).toBe('@lifeline/server');
        for (const metric of scope.metrics) found.set(metric.descriptor.name, metric);
      }
      return found;
    },
  };
}

const idle: ServerGauges = { inFlight: () => 0, queued: () => 0, limit: () => undefined, state: () => 'serving' };

/**
 * A node:http server doing the bookkeeping the Lifeline does around a request: the start time
 * when it arrives, `requestEnded` when its response is over ('close').
 */
async function instrumentedServer(
  serverMetrics: ServerMetrics,
  route: string | undefined,
  handle: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ url: string; ended: () => number }> {
  let ended = 0;
  const { url, close } = await startServer((req, res) => {
    const startedAt = serverMetrics.requestStarted();
    res.once('close', () => {
      serverMetrics.requestEnded(req, res, route, startedAt);
      ended++;
    });
    handle(req, res);
  });
  cleanups.push(close);
  return { url, ended: () => ended };
}

function points(metric: MetricData | undefined): DataPoint<unknown>[] {
  expect(metric).toBeDefined();
  return metric!.dataPoints;
}

describe('ServerMetrics without an SDK', () => {
  it('is disabled with the global no-op provider: no clock read, nothing recorded, no gauge read', async () => {
    let reads = 0;
    const counting: ServerGauges = {
      inFlight: () => ++reads,
      queued: () => ++reads,
      limit: () => ++reads,
      state: () => {
        reads++;
        return 'serving';
      },
    };
    const serverMetrics = new ServerMetrics(undefined, counting);
    expect(serverMetrics.enabled).toBe(false);
    expect(serverMetrics.requestStarted()).toBe(0);
    const { url, ended } = await instrumentedServer(serverMetrics, '/x', (_req, res) => res.end('ok'));
    expect((await send(url, { path: '/x' })).status).toBe(200);
    await waitFor(() => ended() === 1, 5_000, 'the response to end');
    serverMetrics.rejected('queue-full');
    serverMetrics.idempotency('replayed');
    serverMetrics.dispose();
    expect(reads).toBe(0);
  });

  it('is disabled with an explicit provider whose meter is the no-op meter', () => {
    const noop: ApiMeterProvider = { getMeter: () => createNoopMeter() };
    expect(new ServerMetrics(noop, idle).enabled).toBe(false);
  });

  it('takes the global provider registered before it is made', async () => {
    const { provider, collect } = sdk();
    metrics.setGlobalMeterProvider(provider);
    cleanups.push(() => metrics.disable());
    const serverMetrics = new ServerMetrics(undefined, idle);
    cleanups.push(() => serverMetrics.dispose());
    expect(serverMetrics.enabled).toBe(true);
    serverMetrics.rejected('shutting-down');
    expect(points((await collect()).get('lifeline.server.rejected'))[0]?.value).toBe(1);
  });
});

describe('http.server.request.duration', () => {
  it('records method, scheme, protocol version, route and status per the HTTP conventions, in seconds', async () => {
    const { provider, collect } = sdk();
    const serverMetrics = new ServerMetrics(provider, idle);
    cleanups.push(() => serverMetrics.dispose());
    expect(serverMetrics.enabled).toBe(true);
    const { url, ended } = await instrumentedServer(serverMetrics, '/orders/:id', (req, res) => {
      res.writeHead(req.method === 'POST' ? 201 : 200).end();
    });
    await send(url, { path: '/orders/7' });
    await send(url, { path: '/orders/8' });
    await send(url, { method: 'POST', path: '/orders/9' });
    await waitFor(() => ended() === 3, 5_000, 'the responses to end');

    const duration = (await collect()).get('http.server.request.duration');
    expect(duration?.descriptor.unit).toBe('s');
    expect(duration?.dataPointType).toBe(DataPointType.HISTOGRAM);
    const byMethod = new Map(points(duration).map((p) => [p.attributes['http.request.method'], p as DataPoint<Histogram>]));
    expect(byMethod.get('GET')?.attributes).toEqual({
      'http.request.method': 'GET',
      'url.scheme': 'http',
      'network.protocol.version': '1.1',
      'http.route': '/orders/:id',
      'http.response.status_code': 200,
    });
    expect(byMethod.get('GET')?.value.count).toBe(2);
    expect(byMethod.get('POST')?.attributes['http.response.status_code']).toBe(201);
    expect(byMethod.get('POST')?.value.count).toBe(1);
    // The bucket boundaries the conventions advise.
    expect(byMethod.get('GET')?.value.buckets.boundaries).toEqual([0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]);
  });

  it('measures from the start time it handed out, in seconds', async () => {
    const { provider, collect } = sdk();
    const serverMetrics = new ServerMetrics(provider, idle);
    cleanups.push(() => serverMetrics.dispose());
    let ended = false;
    const { url, close } = await startServer((req, res) => {
      // As if the request had arrived 1.5 s ago.
      const startedAt = serverMetrics.requestStarted() - 1_500;
      res.once('close', () => {
        serverMetrics.requestEnded(req, res, undefined, startedAt);
        ended = true;
      });
      res.end();
    });
    cleanups.push(close);
    await send(url);
    await waitFor(() => ended, 5_000, 'the response to end');
    const [point] = points((await collect()).get('http.server.request.duration')) as DataPoint<Histogram>[];
    expect(point?.value.count).toBe(1);
    expect(point?.value.sum).toBeGreaterThanOrEqual(1.5);
    // Seconds, not milliseconds: 1.5 s is not recorded as 1 500.
    expect(point?.value.sum).toBeLessThan(1_500);
    expect(point?.attributes['http.route']).toBeUndefined();
  });

  it('marks a 5xx with error.type, and records methods outside the conventions as _OTHER', async () => {
    const { provider, collect } = sdk();
    const serverMetrics = new ServerMetrics(provider, idle);
    cleanups.push(() => serverMetrics.dispose());
    const { url, ended } = await instrumentedServer(serverMetrics, undefined, (req, res) => {
      res.writeHead(req.method === 'PROPFIND' ? 207 : 503).end();
    });
    expect((await send(url, { method: 'DELETE' })).status).toBe(503);
    expect((await send(url, { method: 'PROPFIND' })).status).toBe(207);
    await waitFor(() => ended() === 2, 5_000, 'the responses to end');
    const byMethod = new Map(points((await collect()).get('http.server.request.duration')).map((p) => [p.attributes['http.request.method'], p]));
    expect(byMethod.get('DELETE')?.attributes).toMatchObject({ 'http.response.status_code': 503, 'error.type': '503' });
    expect(byMethod.get('_OTHER')?.attributes['http.response.status_code']).toBe(207);
    expect(byMethod.get('_OTHER')?.attributes['error.type']).toBeUndefined();
    expect(byMethod.has('PROPFIND')).toBe(false);
  });

  it('marks a response cut off by the client as aborted, with no status when none was sent', async () => {
    const { provider, collect } = sdk();
    const serverMetrics = new ServerMetrics(provider, idle);
    cleanups.push(() => serverMetrics.dispose());
    const arrived = gate();
    const { url, ended } = await instrumentedServer(serverMetrics, '/slow', (req, res) => {
      // /partial sends its headers and part of its body, /silent nothing; neither finishes.
      if (req.url === '/partial') res.writeHead(200).write('part');
      arrived.open();
    });
    for (const path of ['/silent', '/partial']) {
      const { socket, received } = await rawConnection(url);
      socket.write(`GET ${path} HTTP/1.1\r\nhost: x\r\n\r\n`);
      await arrived.promise;
      if (path === '/partial') await waitFor(() => received().includes('part'), 5_000, 'the partial body');
      socket.destroy();
    }
    await waitFor(() => ended() === 2, 5_000, 'both connections to close');
    const recorded = points((await collect()).get('http.server.request.duration'));
    const withStatus = recorded.filter((p) => p.attributes['http.response.status_code'] !== undefined);
    const without = recorded.filter((p) => p.attributes['http.response.status_code'] === undefined);
    expect(without.map((p) => p.attributes['error.type'])).toEqual(['aborted']);
    expect(withStatus.map((p) => [p.attributes['http.response.status_code'], p.attributes['error.type']])).toEqual([[200, 'aborted']]);
  });

  it('reports https for a request over TLS', async () => {
    const { provider, collect } = sdk();
    const serverMetrics = new ServerMetrics(provider, idle);
    cleanups.push(() => serverMetrics.dispose());
    const { req, res } = fakeExchange({ encrypted: true });
    serverMetrics.requestEnded(req, res, undefined, serverMetrics.requestStarted());
    const [point] = points((await collect()).get('http.server.request.duration'));
    expect(point?.attributes['url.scheme']).toBe('https');
  });
});

/**
 * A request and a finished response as node:http shapes them, for what a loopback test
 * cannot reach without a certificate: only the fields `requestEnded` reads.
 */
function fakeExchange(socket: object): { req: IncomingMessage; res: ServerResponse } {
  const req = { method: 'GET', httpVersion: '1.1', socket } as IncomingMessage;
  const res = { statusCode: 200, headersSent: true, writableFinished: true } as ServerResponse;
  return { req, res };
}

describe('lifeline.server.rejected', () => {
  it('counts each reason on its own series', async () => {
    const { provider, collect } = sdk();
    const serverMetrics = new ServerMetrics(provider, idle);
    cleanups.push(() => serverMetrics.dispose());
    serverMetrics.rejected('queue-full');
    serverMetrics.rejected('queue-full');
    serverMetrics.rejected('queue-timeout');
    serverMetrics.rejected('deadline');
    serverMetrics.rejected('deadline-spent');
    serverMetrics.rejected('shutting-down');
    serverMetrics.rejected('shutting-down');
    serverMetrics.rejected('shutting-down');
    const rejected = (await collect()).get('lifeline.server.rejected');
    expect(rejected?.descriptor.unit).toBe('{request}');
    expect(rejected?.dataPointType).toBe(DataPointType.SUM);
    const byReason = Object.fromEntries(points(rejected).map((p) => [p.attributes['lifeline.reason'], p.value]));
    expect(byReason).toEqual({ 'queue-full': 2, 'queue-timeout': 1, deadline: 1, 'deadline-spent': 1, 'shutting-down': 3 });
  });
});

describe('idempotency counters', () => {
  it('counts request outcomes by lifeline.outcome, released claims and store errors apart', async () => {
    const { provider, collect } = sdk();
    const serverMetrics = new ServerMetrics(provider, idle);
    cleanups.push(() => serverMetrics.dispose());
    const events = ['executed', 'executed', 'replayed', 'in-flight', 'mismatched', 'missing-key', 'invalid-key', 'unavailable', 'released', 'store-error', 'store-error'] as const;
    for (const event of events) serverMetrics.idempotency(event);
    const found = await collect();
    const outcomes = Object.fromEntries(points(found.get('lifeline.idempotency.requests')).map((p) => [p.attributes['lifeline.outcome'], p.value]));
    expect(outcomes).toEqual({ executed: 2, replayed: 1, 'in-flight': 1, mismatched: 1, 'missing-key': 1, 'invalid-key': 1, unavailable: 1 });
    expect(points(found.get('lifeline.idempotency.released')).map((p) => [p.attributes, p.value])).toEqual([[{}, 1]]);
    expect(points(found.get('lifeline.idempotency.store_errors')).map((p) => [p.attributes, p.value])).toEqual([[{}, 2]]);
  });
});

describe('gauges', () => {
  it('reads in-flight, queued and the shutdown phase at each collection, until disposed', async () => {
    const { provider, collect } = sdk();
    let inFlight = 3;
    let queued = 1;
    let state: LifelineState = 'serving';
    let reads = 0;
    const serverMetrics = new ServerMetrics(provider, {
      inFlight: () => (reads++, inFlight),
      queued: () => queued,
      limit: () => 40,
      state: () => state,
    });
    const values = async (): Promise<Record<string, unknown>> => {
      const found = await collect();
      return Object.fromEntries(
        ['lifeline.server.in_flight', 'lifeline.server.queued', 'lifeline.server.state'].map((name) => [name, found.get(name)?.dataPoints[0]?.value]),
      );
    };
    expect(await values()).toEqual({ 'lifeline.server.in_flight': 3, 'lifeline.server.queued': 1, 'lifeline.server.state': 0 });
    const phases: [LifelineState, number][] = [
      ['stopping', 1],
      ['draining', 2],
      ['stopped', 3],
    ];
    for (const [phase, value] of phases) {
      state = phase;
      inFlight = 0;
      queued = 0;
      expect(await values()).toEqual({ 'lifeline.server.in_flight': 0, 'lifeline.server.queued': 0, 'lifeline.server.state': value });
    }
    const found = await collect();
    expect(found.get('lifeline.server.limit')?.dataPoints[0]?.value).toBe(40);
    expect(found.get('lifeline.server.in_flight')?.descriptor.unit).toBe('{request}');
    expect(found.get('lifeline.server.state')?.dataPointType).toBe(DataPointType.GAUGE);

    serverMetrics.dispose();
    serverMetrics.dispose();
    const before = reads;
    await collect();
    expect(reads).toBe(before);
  });
});

describe('a real request path', () => {
  it('sees a request in flight while its handler runs', async () => {
    const { provider, collect } = sdk();
    let inFlight = 0;
    const serverMetrics = new ServerMetrics(provider, { ...idle, inFlight: () => inFlight });
    cleanups.push(() => serverMetrics.dispose());
    const release = gate();
    const { url, ended } = await instrumentedServer(serverMetrics, '/hold', (_req, res) => {
      inFlight++;
      res.once('close', () => inFlight--);
      void release.promise.then(() => res.end());
    });
    const reply = new Promise<number>((resolve, reject) => {
      const req = httpRequest(`${url}/hold`, { agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on('error', reject);
      req.end();
    });
    await waitFor(() => inFlight === 1, 5_000, 'the request to arrive');
    expect((await collect()).get('lifeline.server.in_flight')?.dataPoints[0]?.value).toBe(1);
    release.open();
    expect(await reply).toBe(200);
    await waitFor(() => ended() === 1, 5_000, 'the response to end');
    const found = await collect();
    expect(found.get('lifeline.server.in_flight')?.dataPoints[0]?.value).toBe(0);
    expect(points(found.get('http.server.request.duration'))[0]?.attributes['http.route']).toBe('/hold');
  });
});

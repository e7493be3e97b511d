import { MeterProvider, MetricReader, type DataPoint, type Histogram, type MetricData } from '@opentelemetry/sdk-metrics';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { createLifeline } from '../src/index.ts';
import { adapters, type App } from './apps.ts';
import { closeServer, gate, listen, send, waitFor } from './helpers.ts';
import { idempotent } from '../src/express.ts';

/** A reader the test collects from on demand. */
class TestReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

function sdk(): { provider: MeterProvider; collect: () => Promise<Map<string, MetricData>> } {
  const reader = new TestReader();
  const provider = new MeterProvider({ readers: [reader] });
  return {
    provider,
    collect: async () => {
      const { resourceMetrics } = await reader.collect();
      const found = new Map<string, MetricData>();
      for (const scope of resourceMetrics.scopeMetrics) for (const metric of scope.metrics) found.set(metric.descriptor.name, metric);
      return found;
    },
  };
}

const points = (metric: MetricData | undefined): DataPoint<unknown>[] => (metric?.dataPoints ?? []);

// The metrics come from the engine, so each adapter reports the same series.
describe.each(Object.keys(adapters) as (keyof typeof adapters)[])('%s: server metrics from a real MeterProvider', (name) => {
  let app: App | undefined;
  let provider: MeterProvider | undefined;
  afterEach(async () => {
    await app?.close();
    await provider?.shutdown();
    app = provider = undefined;
  });

  it('records request durations, rejections by reason and the in-flight gauge', async () => {
    const telemetry = sdk();
    provider = telemetry.provider;
    const held = gate();
    let entered = 0;
    app = await adapters[name](
      async (req) => {
        if (req.url === '/hold') {
          entered++;
          await held.promise;
        }
        if (req.url === '/fail') throw new Error('boom');
        return 'ok';
      },
      { lifeline: { meterProvider: telemetry.provider, shedding: { maxConcurrent: 1, maxQueue: 0 } } },
    );
    const { url } = app;
    const original = console.error;
    console.error = () => {};
    try {
      expect((await send(url, { path: '/ok' })).status).toBe(200);
      expect((await send(url, { path: '/fail' })).status).toBe(500);
      expect((await send(url, { path: '/ok', headers: { 'x-request-timeout-ms': '0' } })).status).toBe(504);
      const holding = send(url, { path: '/hold' });
      await waitFor(() => entered === 1, 5_000, 'the held request to run');
      expect((await send(url, { path: '/ok' })).status).toBe(503);

      const during = await telemetry.collect();
      expect(points(during.get('lifeline.server.in_flight')).map((p) => p.value)).toEqual([1]);
      held.open();
      expect((await holding).status).toBe(200);
    } finally {
      console.error = original;
    }
    await waitFor(() => app!.lifeline.snapshot().requests.inFlight === 0, 5_000, 'no request in flight');

    const found = await telemetry.collect();
    const durations = points(found.get('http.server.request.duration'));
    const byStatus = new Map(durations.map((p) => [p.attributes['http.response.status_code'], p]));
    expect([...byStatus.keys()].sort()).toEqual([200, 500, 503, 504]);
    expect((byStatus.get(200)!.value as Histogram).count).toBe(2);
    expect(byStatus.get(200)!.attributes).toMatchObject({ 'http.request.method': 'GET', 'url.scheme': 'http' });
    expect(byStatus.get(500)!.attributes['error.type']).toBe('500');
    if (name !== 'node:http') expect(byStatus.get(200)!.attributes['http.route']).toMatch(/\*/);
    const rejected = new Map(points(found.get('lifeline.server.rejected')).map((p) => [p.attributes['lifeline.reason'], p.value]));
    expect(Object.fromEntries(rejected)).toEqual({ 'deadline-spent': 1, 'queue-full': 1 });
    expect(points(found.get('lifeline.server.in_flight')).map((p) => p.value)).toEqual([0]);
    expect(points(found.get('lifeline.server.state')).map((p) => p.value)).toEqual([0]);
    expect(points(found.get('lifeline.server.limit')).map((p) => p.value)).toEqual([1]);
  });
});

describe('idempotency metrics', () => {
  it('counts executions and replays of an Idempotency-Key route', async () => {
    const { provider, collect } = sdk();
    const lifeline = createLifeline({ meterProvider: provider });
    const app = express();
    let charges = 0;
    app.post('/charges', express.json(), idempotent(lifeline, { required: true }), (_req, res) => {
      charges++;
      res.status(201).json({ charge: charges });
    });
    const server = app.listen(0, '127.0.0.1');
    const url = await listen(server);
    try {
      const post = (key?: string) =>
        send(url, { method: 'POST', path: '/charges', body: '{"amount":5}', headers: { 'content-type': 'application/json', ...(key === undefined ? {} : { 'idempotency-key': `"${key}"` }) } });
      expect((await post('k1')).status).toBe(201);
      expect((await post('k1')).status).toBe(201);
      expect((await post()).status).toBe(400);
      expect(charges).toBe(1);
      const outcomes = points((await collect()).get('lifeline.idempotency.requests'));
      expect(Object.fromEntries(outcomes.map((p) => [p.attributes['lifeline.outcome'], p.value]))).toEqual({ executed: 1, replayed: 1, 'missing-key': 1 });
    } finally {
      await closeServer(server);
      await provider.shutdown();
    }
  });
});

describe('the meterProvider option', () => {
  it.each([
    [null, 'null'],
    [{}, 'an object without getMeter()'],
    ['otel', 'string'],
  ])('refuses %j at construction', (value, got) => {
    expect(() => createLifeline({ meterProvider: value as never })).toThrow(
      `lifeline: option \`meterProvider\` must be an OpenTelemetry MeterProvider (with getMeter()), got ${got}`,
    );
  });
});

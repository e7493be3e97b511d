import type { IncomingMessage } from 'node:http';
import { Deadline, isLifelineError } from '@lifeline/core';
import { extractContext, isLifelineRequest, runWithRequestContext, type RequestContext } from '@lifeline/trace';
import { context, propagation, SpanKind, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import {
  AggregationTemporality,
  DataPointType,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
  type HistogramMetricData,
  type MetricData,
} from '@opentelemetry/sdk-metrics';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { Agent, fetch, request as undiciRequest } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createClient, createInterceptor, type LifelineClient } from '../src/index.ts';
import { quickBackoff, startServer, type TestServer } from './servers.ts';

const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const SPAN_ID = 'b7ad6b7169203331';

let server: TestServer | undefined;
let client: LifelineClient | undefined;
let agent: Agent | undefined;
let spans: InMemorySpanExporter;
let tracerProvider: TracerProvider;
const cleanups: (() => unknown)[] = [];

beforeEach(() => {
  spans = new InMemorySpanExporter();
  tracerProvider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter: spans })] });
});

afterEach(async () => {
  await client?.destroy();
  await agent?.close();
  await server?.close();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  client = server = agent = undefined;
});

/** Every value of header `name` in the raw header list, so a repeated header shows up twice. */
function rawValues(req: IncomingMessage, name: string): string[] {
  const values: string[] = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) if (req.rawHeaders[i]!.toLowerCase() === name) values.push(req.rawHeaders[i + 1]!);
  return values;
}

function inbound(overrides: Partial<RequestContext> = {}): RequestContext {
  return {
    requestId: 'req-42',
    deadline: undefined,
    signal: undefined,
    attempt: undefined,
    context: extractContext({ traceparent: `00-${TRACE_ID}-${SPAN_ID}-01` }),
    ...overrides,
  };
}

function byKind(kind: SpanKind): ReadableSpan[] {
  return spans.getFinishedSpans().filter((s) => Number(s.kind) === Number(kind));
}

describe('spans', () => {
  it('one INTERNAL span per call, one CLIENT span per attempt with resend_count and error.type on 5xx', async () => {
    const traceparents: string[][] = [];
    server = await startServer((req, res, n) => {
      traceparents.push(rawValues(req, 'traceparent'));
      res.writeHead(n === 1 ? 503 : 200).end('ok');
    });
    client = createClient({ name: 'payment', baseUrl: server.url, retry: { backoff: quickBackoff }, tracerProvider });
    await runWithRequestContext(inbound(), async () => (await client!.post('/charges', { json: { amount: 1 }, idempotent: true })).body.dump());

    const [call] = byKind(SpanKind.INTERNAL);
    const attempts = byKind(SpanKind.CLIENT);
    expect(call).toBeDefined();
    expect(attempts).toHaveLength(2);
    // The call continues the inbound trace; its attempts are its children.
    expect(call!.spanContext().traceId).toBe(TRACE_ID);
    expect(call!.parentSpanContext?.spanId).toBe(SPAN_ID);
    for (const attempt of attempts) {
      expect(attempt.spanContext().traceId).toBe(TRACE_ID);
      expect(attempt.parentSpanContext?.spanId).toBe(call!.spanContext().spanId);
      expect(attempt.name).toBe('POST');
      expect(attempt.attributes).toMatchObject({
        'http.request.method': 'POST',
        'server.address': '127.0.0.1',
        'server.port': server.port,
        'url.full': `${server.url}/charges`,
      });
    }
    expect(attempts[0]!.attributes['http.request.resend_count']).toBeUndefined();
    expect(attempts[0]!.attributes['http.response.status_code']).toBe(503);
    expect(attempts[0]!.attributes['error.type']).toBe('503');
    expect(attempts[1]!.attributes['http.request.resend_count']).toBe(1);
    expect(attempts[1]!.attributes['error.type']).toBeUndefined();
    // Each attempt sent exactly one traceparent: its own span's.
    expect(traceparents).toEqual(attempts.map((a) => [`00-${TRACE_ID}-${a.spanContext().spanId}-01`]));
    // The retry decision is an event on the call's span.
    const retry = call!.events.find((e) => e.name === 'lifeline.retry');
    expect(retry?.attributes).toMatchObject({ 'lifeline.attempt': 1, 'error.type': '503' });
    expect(call!.attributes).toMatchObject({ 'lifeline.service': 'payment', 'lifeline.attempts': 2, 'http.response.status_code': 200 });
    expect(server.seen.map((s) => s.headers['x-request-id'])).toEqual(['req-42', 'req-42']);
  });

  it('a call refused by an open breaker ends its span with an event and error.type', async () => {
    server = await startServer((_req, res) => res.writeHead(503).end());
    client = createClient({
      name: 'payment',
      baseUrl: server.url,
      retry: false,
      breaker: { minimumCalls: 1, failureRatio: 0.5, breakDuration: 60_000 },
      tracerProvider,
      throwOnHttpError: false,
    });
    await (await client.get('/')).body.dump();
    await expect(client.get('/')).rejects.toSatisfy((e) => isLifelineError(e, 'CIRCUIT_OPEN'));
    const calls = byKind(SpanKind.INTERNAL);
    expect(calls).toHaveLength(2);
    expect(calls[1]!.events.map((e) => e.name)).toContain('lifeline.breaker.rejected');
    expect(calls[1]!.attributes['error.type']).toBe('CIRCUIT_OPEN');
    expect(byKind(SpanKind.CLIENT)).toHaveLength(1);
  });

  it('with no SDK the inbound trace and request id still reach the next hop, under a parent-id of this call', async () => {
    server = await startServer((_req, res) => res.writeHead(200).end());
    client = createClient({ name: 'dep', baseUrl: server.url });
    await runWithRequestContext(inbound(), async () => (await client!.get('/')).body.dump());
    expect(server.seen[0]!.headers.traceparent).toMatch(new RegExp(`^00-${TRACE_ID}-(?!${SPAN_ID})[0-9a-f]{16}-01$`));
    expect(server.seen[0]!.headers['x-request-id']).toBe('req-42');
  });

  it('outside any request: a new request id per call and no traceparent', async () => {
    server = await startServer((_req, res) => res.writeHead(200).end());
    client = createClient({ name: 'dep', baseUrl: server.url });
    await (await client.get('/')).body.dump();
    await (await client.get('/', { headers: { 'X-Request-Id': 'mine' } })).body.dump();
    const [first, second] = server.seen;
    expect(first!.headers['x-request-id']).toMatch(/^[A-Za-z0-9_-]{22}-[0-9a-z]{1,11}$/);
    expect(first!.headers.traceparent).toBeUndefined();
    expect(second!.headers['x-request-id']).toBe('mine');
  });
});

describe('inheriting the request being handled', () => {
  it('the deadline: the call gets no more time than the request has left', async () => {
    server = await startServer((_req, res) => res.writeHead(200).end());
    client = createClient({ name: 'dep', baseUrl: server.url, timeout: 10_000, attemptTimeout: 10_000 });
    await runWithRequestContext(inbound({ deadline: Deadline.after(800) }), async () => (await client!.get('/')).body.dump());
    const left = Number(server.seen[0]!.headers['x-request-timeout-ms']);
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThanOrEqual(800);
  });

  it('the cancellation: the call aborts when the request does', async () => {
    server = await startServer(() => {
      /* never answers */
    });
    client = createClient({ name: 'dep', baseUrl: server.url, timeout: 10_000, attemptTimeout: 10_000 });
    const controller = new AbortController();
    const pending = runWithRequestContext(inbound({ signal: controller.signal }), () => client!.get('/'));
    await new Promise((resolve) => setTimeout(resolve, 50));
    controller.abort();
    await expect(pending).rejects.toSatisfy((e) => isLifelineError(e, 'ABORTED'));
  });

  it('fetch through the interceptor carries the trace, the id and the deadline, set once', async () => {
    let seen: IncomingMessage | undefined;
    server = await startServer((req, res) => {
      seen = req;
      res.writeHead(200).end();
    });
    agent = new Agent();
    const dispatcher = agent.compose(createInterceptor({ tracerProvider }));
    await runWithRequestContext(inbound({ deadline: Deadline.after(700) }), async () => {
      const res = await fetch(server!.url, { dispatcher, headers: { traceparent: `00-${'1'.repeat(32)}-${'2'.repeat(16)}-01`, tracestate: 'stale=1' } });
      await res.arrayBuffer();
    });
    const [attempt] = byKind(SpanKind.CLIENT);
    expect(rawValues(seen!, 'traceparent')).toEqual([`00-${TRACE_ID}-${attempt!.spanContext().spanId}-01`]);
    expect(rawValues(seen!, 'tracestate')).toEqual([]);
    expect(rawValues(seen!, 'x-request-id')).toEqual(['req-42']);
    expect(Number(seen!.headers['x-request-timeout-ms'])).toBeLessThanOrEqual(700);
  });
});

describe('with @opentelemetry/instrumentation-undici also registered', () => {
  function register(hook: boolean): void {
    const manager = new AsyncLocalStorageContextManager().enable();
    context.setGlobalContextManager(manager);
    trace.setGlobalTracerProvider(tracerProvider);
    // What NodeSDK registers by default.
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    const instrumentation = new UndiciInstrumentation(hook ? { ignoreRequestHook: isLifelineRequest } : {});
    instrumentation.setTracerProvider(tracerProvider);
    instrumentation.enable();
    cleanups.push(
      () => instrumentation.disable(),
      () => trace.disable(),
      () => propagation.disable(),
      () => context.disable(),
    );
  }

  async function callTwice(): Promise<string[][]> {
    const traceparents: string[][] = [];
    server = await startServer((req, res, n) => {
      traceparents.push(rawValues(req, 'traceparent'));
      res.writeHead(n === 1 ? 503 : 200).end();
    });
    client = createClient({ name: 'dep', baseUrl: server.url, retry: { backoff: quickBackoff } });
    const parent = trace.getTracer('test').startSpan('handler');
    await context.with(trace.setSpan(context.active(), parent), async () => (await client!.get('/')).body.dump());
    parent.end();
    return traceparents;
  }

  it('the hook leaves one CLIENT span per attempt and one traceparent per request', async () => {
    register(true);
    const traceparents = await callTwice();
    const clients = byKind(SpanKind.CLIENT);
    expect(clients.map((s) => s.instrumentationScope.name)).toEqual(['@lifeline/client', '@lifeline/client']);
    expect(traceparents.map((values) => values.length)).toEqual([1, 1]);
    // The instrumentation is live: a request that is not Lifeline's still gets its span.
    await (await undiciRequest(server!.url)).body.dump();
    expect(byKind(SpanKind.CLIENT).map((s) => s.instrumentationScope.name)).toContain('@opentelemetry/instrumentation-undici');
  });

  it('without the hook it would double every CLIENT span and append a second traceparent', async () => {
    register(false);
    const traceparents = await callTwice();
    const clients = byKind(SpanKind.CLIENT);
    expect(clients.filter((s) => s.instrumentationScope.name === '@opentelemetry/instrumentation-undici')).toHaveLength(2);
    expect(traceparents.some((values) => values.length > 1)).toBe(true);
  });
});

describe('metrics', () => {
  async function collect(reader: PeriodicExportingMetricReader, exporter: InMemoryMetricExporter): Promise<Map<string, MetricData>> {
    await reader.forceFlush();
    const found = new Map<string, MetricData>();
    for (const resource of exporter.getMetrics()) {
      for (const scope of resource.scopeMetrics) for (const metric of scope.metrics) found.set(metric.descriptor.name, metric);
    }
    return found;
  }

  it('http.client.request.duration per attempt, and the Lifeline instruments', async () => {
    const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
    const meterProvider = new MeterProvider({ readers: [reader] });
    cleanups.push(() => meterProvider.shutdown());
    server = await startServer((_req, res, n) => res.writeHead(n % 2 === 1 ? 503 : 200).end());
    client = createClient({ name: 'payment', baseUrl: server.url, retry: { backoff: quickBackoff }, meterProvider, bulkhead: { maxConcurrent: 4 } });
    for (let i = 0; i < 3; i++) await (await client.get('/')).body.dump();

    const metrics = await collect(reader, exporter);
    const duration = metrics.get('http.client.request.duration') as HistogramMetricData;
    expect(duration.descriptor.unit).toBe('s');
    expect(duration.dataPointType).toBe(DataPointType.HISTOGRAM);
    const byStatus = new Map(duration.dataPoints.map((p) => [p.attributes['http.response.status_code'], p]));
    expect(byStatus.get(503)?.value.count).toBe(3);
    expect(byStatus.get(503)?.attributes['error.type']).toBe('503');
    expect(byStatus.get(200)?.value.count).toBe(3);
    expect(byStatus.get(200)?.attributes).toMatchObject({ 'http.request.method': 'GET', 'server.address': '127.0.0.1', 'server.port': server.port });

    const retries = metrics.get('lifeline.client.retries')!;
    expect(retries.dataPoints[0]?.value).toBe(3);
    const attempts = new Map(metrics.get('lifeline.client.attempts')!.dataPoints.map((p) => [p.attributes['lifeline.outcome'], p.value]));
    expect(attempts).toEqual(new Map([['failure', 3], ['success', 3]]));
    expect(metrics.get('lifeline.breaker.state')?.dataPoints[0]?.value).toBe(0);
    expect(metrics.get('lifeline.bulkhead.in_flight')?.dataPoints[0]?.value).toBe(0);
  });
});

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isLifelineError } from '@lifeline/core';
import { createLifeline, currentRequestContext } from '@lifeline/server';
import { context, SpanKind, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
  type HistogramMetricData,
} from '@opentelemetry/sdk-metrics';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { request as undiciRequest } from 'undici';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createClient, type LifelineClient } from '../src/index.ts';
import { quickBackoff } from './servers.ts';

// Three real services chained over loopback — edge → A → B → C — each a node:http server
// under @lifeline/server, each calling the next with @lifeline/client from inside its
// handler without passing it anything, and the real OpenTelemetry SDK recording it all.

const EDGE_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const EDGE_SPAN = '00f067aa0ba902b7';

const spans = new InMemorySpanExporter();
const tracerProvider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter: spans })] });

beforeAll(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(tracerProvider);
});
afterAll(async () => {
  trace.disable();
  context.disable();
  await tracerProvider.shutdown();
});
beforeEach(() => spans.reset());

interface Hop {
  name: string;
  url: string;
  /** What each request to this hop carried and saw. */
  seen: { traceparent: string | undefined; requestId: string | undefined; timeoutHeader: number; deadlineLeft: number | undefined }[];
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function service(name: string, handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>): Promise<Hop> {
  const lifeline = createLifeline({ timeout: 30_000, shedding: false, health: false });
  const hop: Hop = { name, url: '', seen: [] };
  const server: Server = createServer(
    lifeline.handler(async (req, res) => {
      const request = currentRequestContext();
      hop.seen.push({
        traceparent: req.headers.traceparent as string | undefined,
        requestId: req.headers['x-request-id'] as string | undefined,
        timeoutHeader: Number(req.headers['x-request-timeout-ms'] ?? NaN),
        deadlineLeft: request?.deadline?.remaining(),
      });
      await handle(req, res);
    }),
  );
  lifeline.attach(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  hop.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  closers.push(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return hop;
}

function client(name: string, baseUrl: string, meterProvider?: MeterProvider): LifelineClient {
  const c = createClient({ name, baseUrl, timeout: 10_000, attemptTimeout: 10_000, retry: { backoff: quickBackoff }, meterProvider });
  closers.push(() => c.destroy());
  return c;
}

function server(hop: string): ReadableSpan[] {
  return spans.getFinishedSpans().filter((s) => Number(s.kind) === Number(SpanKind.SERVER) && s.attributes['test.hop'] === hop);
}

describe('one request through three services', () => {
  it('carries one trace with correct parent/child links, one request id, a shrinking deadline, resend_count on the retry', async () => {
    const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
    const meterProvider = new MeterProvider({ readers: [reader] });
    closers.push(() => meterProvider.shutdown());
    const mark = (hop: string): void => {
      trace.getSpan(context.active())?.setAttribute('test.hop', hop);
    };

    let cCalls = 0;
    const c = await service('C', async (_req, res) => {
      mark('C');
      await Promise.resolve();
      // The first attempt from B fails: B retries it.
      res.writeHead(++cCalls === 1 ? 503 : 200, { 'content-type': 'application/json' }).end('{"charged":true}');
    });
    const toC = client('C', c.url, meterProvider);
    const b = await service('B', async (_req, res) => {
      mark('B');
      await new Promise((resolve) => setTimeout(resolve, 30)); // time passes at every hop
      const reply = await toC.post('/charges', { json: { amount: 5 }, idempotent: true });
      res.writeHead(200).end(await reply.body.text());
    });
    const toB = client('B', b.url);
    const a = await service('A', async (_req, res) => {
      mark('A');
      await new Promise((resolve) => setTimeout(resolve, 30));
      const reply = await toB.post('/orders', { json: { item: 1 }, idempotent: true });
      res.writeHead(200).end(await reply.body.text());
    });

    const reply = await undiciRequest(`${a.url}/checkout`, {
      method: 'POST',
      headers: { traceparent: `00-${EDGE_TRACE}-${EDGE_SPAN}-01`, 'x-request-id': 'edge-req-1', 'x-request-timeout-ms': '5000' },
    });
    expect(reply.statusCode).toBe(200);
    expect(reply.headers['x-request-id']).toBe('edge-req-1');
    expect(await reply.body.json()).toEqual({ charged: true });

    // One trace across every span of every hop.
    const finished = spans.getFinishedSpans();
    expect(new Set(finished.map((s) => s.spanContext().traceId))).toEqual(new Set([EDGE_TRACE]));
    const byId = new Map(finished.map((s) => [s.spanContext().spanId, s]));
    const parentOf = (s: ReadableSpan): ReadableSpan | undefined => byId.get(s.parentSpanContext?.spanId ?? '');
    const kind = (s: ReadableSpan | undefined): string => (s === undefined ? 'none' : (SpanKind[s.kind] ?? 'unknown'));

    const [aServer] = server('A');
    const [bServer] = server('B');
    const cServers = server('C');
    expect(aServer?.parentSpanContext?.spanId).toBe(EDGE_SPAN);
    expect(cServers).toHaveLength(2);
    // B's SERVER span ← A's CLIENT attempt ← A's INTERNAL call ← A's SERVER span.
    const aAttempt = parentOf(bServer!)!;
    expect(kind(aAttempt)).toBe('CLIENT');
    expect(kind(parentOf(aAttempt))).toBe('INTERNAL');
    expect(parentOf(parentOf(aAttempt)!)).toBe(aServer);
    // Each of C's SERVER spans ← its own B CLIENT attempt ← one B INTERNAL call ← B's SERVER span.
    const bAttempts = cServers.map((s) => parentOf(s)!);
    expect(bAttempts.map(kind)).toEqual(['CLIENT', 'CLIENT']);
    expect(bAttempts[0]).not.toBe(bAttempts[1]);
    const bCall = parentOf(bAttempts[0]!)!;
    expect(parentOf(bAttempts[1]!)).toBe(bCall);
    expect(parentOf(bCall)).toBe(bServer);
    expect(bAttempts.map((s) => s.attributes['http.request.resend_count'])).toEqual([undefined, 1]);
    expect(bAttempts[0]!.attributes['error.type']).toBe('503');
    expect(bCall.events.map((e) => e.name)).toContain('lifeline.retry');
    // What went over the wire: one traceparent naming the sending attempt's span.
    expect(c.seen.map((s) => s.traceparent)).toEqual(bAttempts.map((s) => `00-${EDGE_TRACE}-${s.spanContext().spanId}-01`));

    // One request id from the edge to the last hop.
    expect([...b.seen, ...c.seen].map((s) => s.requestId)).toEqual(['edge-req-1', 'edge-req-1', 'edge-req-1']);

    // The deadline shrinks hop by hop, and each server's deadline is what it was told.
    const [atA] = a.seen;
    const [atB] = b.seen;
    const [atC1, atC2] = c.seen;
    expect(atA!.timeoutHeader).toBe(5_000);
    expect(atB!.timeoutHeader).toBeLessThan(atA!.timeoutHeader);
    expect(atC1!.timeoutHeader).toBeLessThan(atB!.timeoutHeader);
    expect(atC2!.timeoutHeader).toBeLessThanOrEqual(atC1!.timeoutHeader);
    for (const s of [atA, atB, atC1, atC2]) expect(s!.deadlineLeft).toBeLessThanOrEqual(s!.timeoutHeader);

    // B's client measured both attempts to C.
    await reader.forceFlush();
    const duration = exporter
      .getMetrics()
      .flatMap((r) => r.scopeMetrics.flatMap((s) => s.metrics))
      .find((m) => m.descriptor.name === 'http.client.request.duration') as HistogramMetricData;
    const statuses = duration.dataPoints.map((p) => [p.attributes['http.response.status_code'], p.value.count]);
    expect(statuses).toEqual(expect.arrayContaining([[503, 1], [200, 1]]));
  });

  it('a downstream handler is cancelled when the upstream caller gives up', async () => {
    let cAborted: ((reason: unknown) => void) | undefined;
    const cGaveUp = new Promise<unknown>((resolve) => (cAborted = resolve));
    let cStarted: (() => void) | undefined;
    const cReached = new Promise<void>((resolve) => (cStarted = resolve));
    const c = await service('C', async (_req, res) => {
      const signal = currentRequestContext()!.signal!;
      cStarted!();
      // Work that would take a minute, stopped by the request's signal.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 60_000);
        signal.addEventListener('abort', () => {
          clearTimeout(timer);
          cAborted!(signal.reason);
          resolve();
        });
      });
      if (!res.destroyed) res.writeHead(200).end();
    });
    const toC = client('C', c.url);
    const b = await service('B', async (_req, res) => {
      const reply = await toC.get('/slow');
      res.writeHead(200).end(await reply.body.text());
    });
    const toB = client('B', b.url);
    const a = await service('A', async (_req, res) => {
      const reply = await toB.get('/slow');
      res.writeHead(200).end(await reply.body.text());
    });

    // The edge caller sends no deadline; it simply gives up once C is working.
    const controller = new AbortController();
    const pending = undiciRequest(`${a.url}/slow`, { signal: controller.signal });
    await cReached;
    const startedAt = Date.now();
    controller.abort();
    await expect(pending).rejects.toThrow();
    const reason = await cGaveUp;
    // A saw its caller leave, which aborted its call to B; B saw that, which aborted its call to C.
    expect(isLifelineError(reason, 'ABORTED')).toBe(true);
    expect(Date.now() - startedAt).toBeLessThan(10_000);
    expect(c.seen[0]!.timeoutHeader).toBeGreaterThan(0);
  });
});

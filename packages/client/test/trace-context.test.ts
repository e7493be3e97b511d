import { once } from 'node:events';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLifeline } from '@lifeline/server';
import { extractContext, runWithRequestContext } from '@lifeline/trace';
import { context, SpanKind, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { fetch } from 'undici';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createClient, createDispatcher, type LifelineClient } from '../src/index.ts';
import { quickBackoff } from './servers.ts';

// One service in the middle of a trace, as deployed: a real @lifeline/server (node:http
// handler) receives traceparent / tracestate, and calls a real downstream server through
// createClient (a GET answered 503 once, so two attempts) and through fetch() with
// createDispatcher() — with no OpenTelemetry SDK, and with a real SDK registered. The
// downstream checks what W3C Trace Context asks of the middle service.

// The examples of W3C Trace Context Level 2.
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_ID = '00f067aa0ba902b7';
const TRACESTATE = 'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE';
const traceparent = (flags: string): string => `00-${TRACE_ID}-${PARENT_ID}-${flags}`;
/** Version 00 as sent: lowercase hex, no all-zero id, reserved flags zero. */
const TRACEPARENT_00 = /^00-(?!0{32})([0-9a-f]{32})-(?!0{16})([0-9a-f]{16})-(0[0-3])$/;

interface Received {
  path: string;
  /** Every traceparent / tracestate header line, as sent. */
  traceparents: string[];
  tracestates: string[];
  traceId: string;
  parentId: string;
  flags: string;
}

interface Stack {
  downstreamUrl: string;
  /** What the downstream received, in order: the client's two attempts, then the fetch(). */
  received: Received[];
  send(headers: Record<string, string | string[]>): Promise<Received[]>;
  close(): Promise<void>;
}

async function listen(server: Server): Promise<string> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function startStack(): Promise<Stack> {
  const received: Received[] = [];
  let flaky = 0;
  const downstream = createServer((req, res) => {
    const values = (name: string): string[] =>
      req.rawHeaders.flatMap((value, i) => (i % 2 === 1 && req.rawHeaders[i - 1]!.toLowerCase() === name ? [value] : []));
    const traceparents = values('traceparent');
    const match = TRACEPARENT_00.exec(traceparents[0] ?? '');
    received.push({
      path: req.url!,
      traceparents,
      tracestates: values('tracestate'),
      traceId: match?.[1] ?? '',
      parentId: match?.[2] ?? '',
      flags: match?.[3] ?? '',
    });
    req.resume();
    res.writeHead(req.url === '/flaky' && flaky++ % 2 === 0 ? 503 : 200).end();
  });
  const downstreamUrl = await listen(downstream);

  const client: LifelineClient = createClient({ name: 'downstream', baseUrl: downstreamUrl, retry: { backoff: quickBackoff } });
  const dispatcher = createDispatcher();
  const lifeline = createLifeline({ shedding: false });
  const middle = createServer(
    lifeline.handler(async (_req, res) => {
      await (await client.get('/flaky')).body.dump();
      // A caller's own trace headers on fetch() are replaced by the request's trace.
      const stale = { traceparent: `00-${'1'.repeat(32)}-${'2'.repeat(16)}-01`, tracestate: 'stale=1' };
      await (await fetch(`${downstreamUrl}/fetch`, { dispatcher, headers: stale })).arrayBuffer();
      res.end('ok');
    }),
  );
  const middleUrl = await listen(middle);

  return {
    downstreamUrl,
    received,
    send: (headers) =>
      new Promise<Received[]>((resolve, reject) => {
        const from = received.length;
        const req = httpRequest(middleUrl, { headers, agent: false, signal: AbortSignal.timeout(10_000) }, (res) => {
          res.resume();
          res.on('end', () => (res.statusCode === 200 ? resolve(received.slice(from)) : reject(new Error(`status ${res.statusCode}`))));
        });
        req.on('error', reject);
        req.end();
      }),
    close: async () => {
      await client.close();
      await dispatcher.close();
      for (const server of [middle, downstream]) {
        server.closeAllConnections();
        server.close();
      }
    },
  };
}

/** Checks every trace header the downstream received, and returns the three requests. */
function checkWellFormed(requests: Received[]): Received[] {
  expect(requests.map((r) => r.path)).toEqual(['/flaky', '/flaky', '/fetch']);
  for (const request of requests) {
    expect(request.traceparents).toHaveLength(1);
    expect(request.traceparents[0]).toMatch(TRACEPARENT_00);
    expect(request.tracestates.length).toBeLessThanOrEqual(1);
  }
  // Each attempt is an operation of its own: three different parent-ids.
  expect(new Set(requests.map((r) => r.parentId)).size).toBe(3);
  return requests;
}

let stack: Stack;
beforeEach(async () => {
  stack = await startStack();
});
afterEach(async () => {
  await stack.close();
});

/** The cases both modes share: what must hold whoever records the spans. */
function sharedCases(): void {
  it('a valid traceparent: the same trace id, a parent-id of this service per attempt, tracestate as it came', async () => {
    const requests = checkWellFormed(await stack.send({ traceparent: traceparent('01'), tracestate: TRACESTATE }));
    for (const request of requests) {
      expect(request.traceId).toBe(TRACE_ID);
      expect(request.parentId).not.toBe(PARENT_ID);
      expect(request.flags).toBe('01');
      expect(request.tracestates).toEqual([TRACESTATE]);
    }
  });

  it('the random flag of the inbound trace is kept on every outgoing traceparent', async () => {
    const requests = checkWellFormed(await stack.send({ traceparent: traceparent('03') }));
    expect(requests.map((r) => [r.traceId, r.flags])).toEqual(Array(3).fill([TRACE_ID, '03']));
    expect(requests.map((r) => r.tracestates)).toEqual([[], [], []]);
  });

  it('a caller that did not sample: the trace goes on unsampled, each attempt with its own parent-id', async () => {
    const requests = checkWellFormed(await stack.send({ traceparent: traceparent('00'), tracestate: 'rojo=00f067aa0ba902b7' }));
    expect(requests.map((r) => [r.traceId, r.flags, r.tracestates])).toEqual(Array(3).fill([TRACE_ID, '00', ['rojo=00f067aa0ba902b7']]));
  });

  it('a tracestate in several headers, with whitespace and a repeated key, is combined and rebuilt by the rules', async () => {
    const requests = checkWellFormed(
      await stack.send({ traceparent: traceparent('01'), tracestate: ['foo=1 \t, bar=2', ' ,foo=3, tenant@vendor=x'] }),
    );
    expect(requests.map((r) => r.tracestates)).toEqual(Array(3).fill(['foo=1,bar=2,tenant@vendor=x']));
  });

  it.each([
    ['an invalid member', 'foo=1,BAR=2'],
    ['33 members', Array.from({ length: 33 }, (_, i) => `k${i}=${i}`).join(',')],
  ])('a tracestate with %s is dropped whole; the trace goes on', async (_name, tracestate) => {
    const requests = checkWellFormed(await stack.send({ traceparent: traceparent('01'), tracestate }));
    expect(requests.map((r) => [r.traceId, r.tracestates])).toEqual(Array(3).fill([TRACE_ID, []]));
  });

  it.each([
    ['no traceparent', {}],
    ['a tracestate without a traceparent', { tracestate: TRACESTATE }],
    ['version ff', { traceparent: `ff-${TRACE_ID}-${PARENT_ID}-01`, tracestate: TRACESTATE }],
    ['an all-zero trace id', { traceparent: `00-${'0'.repeat(32)}-${PARENT_ID}-01`, tracestate: TRACESTATE }],
    ['upper-case hex', { traceparent: traceparent('01').toUpperCase(), tracestate: TRACESTATE }],
    ['two different traceparents', { traceparent: [traceparent('01'), `00-${TRACE_ID}-${'1'.repeat(16)}-01`] }],
  ])('%s: a new trace, shared by all outgoing requests, and no tracestate', async (_name, headers) => {
    const requests = checkWellFormed(await stack.send(headers));
    const traceId = requests[0]!.traceId;
    expect(traceId).not.toBe(TRACE_ID);
    expect(requests.map((r) => [r.traceId, r.tracestates])).toEqual(Array(3).fill([traceId, []]));
    const again = checkWellFormed(await stack.send(headers));
    expect(again[0]!.traceId).not.toBe(traceId);
  });
}

describe('W3C trace context through a Lifeline service, no OpenTelemetry SDK', () => {
  beforeAll(() => {
    expect(trace.getTracerProvider().getTracer('probe').startSpan('probe').isRecording()).toBe(false);
  });

  sharedCases();

  it('a new trace has a random trace id and says so (random flag), and is not sampled: nothing records it', async () => {
    const requests = checkWellFormed(await stack.send({}));
    expect(requests.map((r) => r.flags)).toEqual(['02', '02', '02']);
  });
});

describe("a caller's own trace headers, no SDK", () => {
  let client: LifelineClient | undefined;
  afterEach(async () => {
    await client?.close();
    client = undefined;
  });

  function inRequest<T>(headers: Record<string, string>, fn: () => Promise<T>): Promise<T> {
    const request = { requestId: 'req-1', deadline: undefined, signal: undefined, attempt: undefined, context: extractContext(headers) };
    return runWithRequestContext(request, fn);
  }
  const own = { traceparent: `00-${'1'.repeat(32)}-${'2'.repeat(16)}-01`, tracestate: 'stale=1' };

  it('inside a traced request they are replaced, tracestate too: it belonged to the replaced traceparent', async () => {
    client = createClient({ name: 'downstream', baseUrl: stack.downstreamUrl, retry: false });
    await inRequest({ traceparent: traceparent('01') }, async () => (await client!.get('/own', { headers: own })).body.dump());
    await inRequest({ traceparent: traceparent('01'), tracestate: 'rojo=1' }, async () => (await client!.get('/own', { headers: own })).body.dump());
    expect(stack.received.map((r) => [r.traceId, r.tracestates])).toEqual([
      [TRACE_ID, []],
      [TRACE_ID, ['rojo=1']],
    ]);
  });

  it('outside any traced request they pass through untouched: the traceparent unchanged, and so the tracestate', async () => {
    client = createClient({ name: 'downstream', baseUrl: stack.downstreamUrl, retry: false });
    const tracestate = 'b=2 , a=1,a=3';
    await (await client.get('/own', { headers: { ...own, tracestate } })).body.dump();
    const dispatcher = createDispatcher();
    await (await fetch(`${stack.downstreamUrl}/own`, { dispatcher, headers: { ...own, tracestate } })).arrayBuffer();
    await dispatcher.close();
    expect(stack.received.map((r) => [r.traceparents, r.tracestates])).toEqual(Array(2).fill([[own.traceparent], [tracestate]]));
  });
});

describe('W3C trace context through a Lifeline service, an OpenTelemetry SDK registered', () => {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  beforeAll(() => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    trace.setGlobalTracerProvider(provider);
  });
  afterAll(async () => {
    trace.disable();
    context.disable();
    await provider.shutdown();
  });
  beforeEach(() => exporter.reset());

  sharedCases();

  it("each outgoing parent-id is an attempt's CLIENT span, under the server span whose parent is the caller's", async () => {
    const requests = checkWellFormed(await stack.send({ traceparent: traceparent('01'), tracestate: TRACESTATE }));
    const spans = exporter.getFinishedSpans();
    const server = spans.find((s) => s.kind === SpanKind.SERVER)!;
    expect(server.parentSpanContext?.spanId).toBe(PARENT_ID);
    const clients = new Map(spans.filter((s) => s.kind === SpanKind.CLIENT).map((s) => [s.spanContext().spanId, s]));
    for (const request of requests) {
      const attempt = clients.get(request.parentId);
      expect(attempt?.spanContext().traceId).toBe(TRACE_ID);
    }
  });

  it("a new trace is the SDK's: its server span's trace id, its sampler's decision", async () => {
    const requests = checkWellFormed(await stack.send({}));
    const server = exporter.getFinishedSpans().find((s) => s.kind === SpanKind.SERVER)!;
    expect(server.parentSpanContext).toBeUndefined();
    expect(requests.map((r) => [r.traceId, r.flags])).toEqual(Array(3).fill([server.spanContext().traceId, '01']));
  });
});

import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import express from 'express';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { injectContext } from '@lifeline/trace';
import { createLifeline, currentRequestContext } from '../src/index.ts';
import { lifelineMiddleware } from '../src/express.ts';
import { lifelinePlugin } from '../src/fastify.ts';
import { closeServer, listen, send, startServer, waitFor } from './helpers.ts';
import { useInMemorySdk } from './otel-sdk.ts';

const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const TRACEPARENT = `00-${TRACE_ID}-b7ad6b7169203331-01`;

const exporter = useInMemorySdk();

describe('SERVER spans with an OpenTelemetry SDK registered', () => {
  it('starts a SERVER span, child of the inbound trace, active in the handler', async () => {
    const lifeline = createLifeline({ shedding: false });
    const { url, close } = await startServer(
      lifeline.handler(async (_req, res) => {
        await Promise.resolve();
        const active = trace.getSpan(context.active());
        const own = trace.getSpan(currentRequestContext()!.context);
        res.end(JSON.stringify({ same: active !== undefined && active === own, spanId: own?.spanContext().spanId }));
      }),
    );
    try {
      const reply = await send(url, { path: '/orders/7?x=1', headers: { traceparent: TRACEPARENT } });
      const body = JSON.parse(reply.body);
      expect(body.same).toBe(true);
      await waitFor(() => exporter.getFinishedSpans().length === 1, 5_000, 'the span');
      const [span] = exporter.getFinishedSpans();
      expect(span!.name).toBe('GET');
      expect(span!.kind).toBe(SpanKind.SERVER);
      expect(span!.spanContext().traceId).toBe(TRACE_ID);
      expect(span!.spanContext().spanId).toBe(body.spanId);
      expect(span!.parentSpanContext?.spanId).toBe('b7ad6b7169203331');
      expect(span!.attributes).toMatchObject({ 'http.request.method': 'GET', 'url.path': '/orders/7', 'http.response.status_code': 200 });
      expect(span!.attributes['error.type']).toBeUndefined();
    } finally {
      await close();
    }
  });

  it("the request's context names the SERVER span as parent, keeps the inbound random flag and rebuilds tracestate", async () => {
    const lifeline = createLifeline({ shedding: false });
    const { url, close } = await startServer(
      lifeline.handler((_req, res) => {
        const headers: Record<string, string> = {};
        injectContext(currentRequestContext()!.context, headers);
        res.end(JSON.stringify(headers));
      }),
    );
    try {
      const reply = await send(url, { headers: { traceparent: `00-${TRACE_ID}-b7ad6b7169203331-03`, tracestate: 'rojo=1 , congo=2,rojo=3' } });
      await waitFor(() => exporter.getFinishedSpans().length === 1, 5_000, 'the span');
      const spanId = exporter.getFinishedSpans()[0]!.spanContext().spanId;
      // The SDK's span carries the sampled bit alone; the random flag of the inbound trace is put back.
      expect(JSON.parse(reply.body)).toEqual({ traceparent: `00-${TRACE_ID}-${spanId}-03`, tracestate: 'rojo=1,congo=2' });
    } finally {
      await close();
    }
  });

  it('marks a 5xx answer with error.type and an error status', async () => {
    const lifeline = createLifeline({ shedding: false });
    const { url, close } = await startServer(
      lifeline.handler(() => {
        throw new Error('boom');
      }),
    );
    try {
      expect((await send(url, { method: 'POST', path: '/x' })).status).toBe(500);
      await waitFor(() => exporter.getFinishedSpans().length === 1, 5_000, 'the span');
      const [span] = exporter.getFinishedSpans();
      expect(span!.attributes).toMatchObject({ 'http.request.method': 'POST', 'http.response.status_code': 500, 'error.type': '500' });
      expect(span!.status.code).toBe(SpanStatusCode.ERROR);
    } finally {
      await close();
    }
  });

  it('reuses a span already active (as instrumentation-http makes) instead of starting another', async () => {
    const lifeline = createLifeline({ shedding: false });
    const tracer = trace.getTracer('instrumentation-http-stand-in');
    const handler = lifeline.handler((_req, res) => {
      res.end(trace.getSpan(currentRequestContext()!.context)?.spanContext().spanId ?? 'none');
    });
    const { url, close } = await startServer((req, res) => {
      const outer = tracer.startSpan('GET', { kind: SpanKind.SERVER });
      res.once('close', () => outer.end());
      context.with(trace.setSpan(context.active(), outer), () => handler(req, res));
    });
    try {
      const reply = await send(url, { headers: { traceparent: TRACEPARENT } });
      await waitFor(() => exporter.getFinishedSpans().length === 1, 5_000, 'the span');
      await new Promise((resolve) => setTimeout(resolve, 50));
      const spans = exporter.getFinishedSpans();
      expect(spans).toHaveLength(1);
      expect(spans[0]!.instrumentationScope.name).toBe('instrumentation-http-stand-in');
      expect(reply.body).toBe(spans[0]!.spanContext().spanId);
    } finally {
      await close();
    }
  });

  it('names the Fastify span after the route template', async () => {
    const lifeline = createLifeline({ shedding: false });
    const app = Fastify();
    await app.register(lifelinePlugin, { lifeline });
    app.get('/users/:id', () => ({ ok: true }));
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      expect((await send(url, { path: '/users/42' })).status).toBe(200);
      await waitFor(() => exporter.getFinishedSpans().length === 1, 5_000, 'the span');
      const [span] = exporter.getFinishedSpans();
      expect(span!.name).toBe('GET /users/:id');
      expect(span!.attributes).toMatchObject({ 'http.route': '/users/:id', 'url.path': '/users/42', 'http.response.status_code': 200 });
    } finally {
      await app.close();
    }
  });

  it('names the Express span after the route, mount path included', async () => {
    const lifeline = createLifeline({ shedding: false });
    const app = express();
    app.use(lifelineMiddleware(lifeline));
    const users = express.Router();
    users.get('/:id', (_req, res) => void res.json({ ok: true }));
    app.use('/users', users);
    const server = app.listen(0, '127.0.0.1');
    const url = await listen(server);
    try {
      expect((await send(url, { path: '/users/42' })).status).toBe(200);
      await waitFor(() => exporter.getFinishedSpans().length === 1, 5_000, 'the span');
      const [span] = exporter.getFinishedSpans();
      expect(span!.name).toBe('GET /users/:id');
      expect(span!.attributes['http.route']).toBe('/users/:id');
    } finally {
      await closeServer(server);
    }
  });
});

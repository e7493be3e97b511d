import { setTimeout as delay } from 'node:timers/promises';
import { isLifelineError } from '@lifeline/core';
import { parentContext } from '@lifeline/trace';
import { propagation, trace } from '@opentelemetry/api';
import { afterEach, describe, expect, it } from 'vitest';
import { createLifeline, currentRequestContext, requestContext, type Lifeline, type LifelineOptions, type RequestContext } from '../src/index.ts';
import { send, sendAndHangUp, startServer, waitFor } from './helpers.ts';

const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const TRACEPARENT = `00-${TRACE_ID}-b7ad6b7169203331-01`;
/** A generated request id: a per-process random prefix and a counter (newRequestId). */
const GENERATED_ID = /^[A-Za-z0-9_-]{22}-[0-9a-z]{1,11}$/;

let stop: (() => Promise<void>) | undefined;
afterEach(async () => {
  await stop?.();
  stop = undefined;
});

/** A node:http server whose handler reports what the request context looked like. */
async function contextServer(options: LifelineOptions = {}): Promise<{ url: string; lifeline: Lifeline }> {
  const lifeline = createLifeline({ shedding: false, ...options });
  const { url, close } = await startServer(
    lifeline.handler(async (req, res) => {
      const ctx = requestContext(req)!;
      await delay(5);
      const current = currentRequestContext();
      const span = trace.getSpanContext(parentContext());
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          requestId: ctx.requestId,
          remaining: ctx.deadline!.remaining(),
          attempt: ctx.attempt ?? null,
          priority: ctx.priority ?? null,
          sameAfterAwait: current === ctx,
          traceId: span?.traceId ?? null,
          traceFlags: span?.traceFlags ?? null,
          baggage: propagation.getBaggage(ctx.context)?.getEntry('tenant')?.value ?? null,
        }),
      );
    }),
  );
  stop = close;
  return { url, lifeline };
}

describe('request context over node:http', () => {
  it('echoes a valid x-request-id and generates one when it is absent', async () => {
    const { url } = await contextServer();
    const echoed = await send(url, { headers: { 'x-request-id': 'req-abc_123' } });
    expect(echoed.headers['x-request-id']).toBe('req-abc_123');
    expect(JSON.parse(echoed.body).requestId).toBe('req-abc_123');
    const generated = await send(url);
    expect(generated.headers['x-request-id']).toMatch(GENERATED_ID);
    expect(JSON.parse(generated.body).requestId).toBe(generated.headers['x-request-id']);
  });

  it('lets an inbound deadline shorten the server limit, never lengthen it', async () => {
    const { url } = await contextServer({ timeout: 2_000 });
    const shorter = JSON.parse((await send(url, { headers: { 'x-request-timeout-ms': '300' } })).body);
    expect(shorter.remaining).toBeLessThanOrEqual(300);
    expect(shorter.remaining).toBeGreaterThan(0);
    const longer = JSON.parse((await send(url, { headers: { 'x-request-timeout-ms': '600000' } })).body);
    expect(longer.remaining).toBeLessThanOrEqual(2_000);
    expect(longer.remaining).toBeGreaterThan(300);
    const grpc = JSON.parse((await send(url, { headers: { 'grpc-timeout': '1S', 'x-envoy-expected-rq-timeout-ms': '400' } })).body);
    expect(grpc.remaining).toBeLessThanOrEqual(400);
    const none = JSON.parse((await send(url)).body);
    expect(none.remaining).toBeLessThanOrEqual(2_000);
    expect(none.remaining).toBeGreaterThan(1_000);
  });

  it('ignores malformed deadline, request id, attempt, priority and traceparent headers, and counts them', async () => {
    const { url, lifeline } = await contextServer({ timeout: 2_000 });
    const reply = await send(url, {
      headers: {
        'x-request-timeout-ms': '-5',
        'grpc-timeout': '1X',
        'x-request-id': 'has space',
        'x-request-attempt': '0',
        'x-request-priority': 'urgent',
        traceparent: '00-zzzz-b7ad6b7169203331-01',
      },
    });
    expect(reply.status).toBe(200);
    const body = JSON.parse(reply.body);
    expect(body.requestId).toMatch(GENERATED_ID);
    expect(body.remaining).toBeGreaterThan(1_000);
    expect(body.attempt).toBeNull();
    // A malformed traceparent: a new trace (random id, random flag, not sampled).
    expect(body.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(body.traceFlags).toBe(2);
    await send(url, { headers: { 'x-request-timeout-ms': 'soon' } });
    expect(lifeline.snapshot().ignoredHeaders).toEqual({
      'x-request-id': 1,
      'x-request-timeout-ms': 2,
      'grpc-timeout': 1,
      'x-envoy-expected-rq-timeout-ms': 0,
      'x-request-attempt': 1,
      'x-request-priority': 1,
      traceparent: 1,
    });
  });

  it('logs a malformed header once, then only counts it', async () => {
    const lines: string[] = [];
    const logger = { info: (_: object, msg: string) => lines.push(msg), warn: (_: object, msg: string) => lines.push(msg) };
    const { url } = await contextServer({ logger });
    for (let i = 0; i < 3; i++) await send(url, { headers: { 'x-request-attempt': 'two' } });
    expect(lines.filter((line) => line.includes('x-request-attempt'))).toHaveLength(1);
  });

  it('reads the attempt number, the priority, the inbound trace and baggage, and keeps the context across awaits', async () => {
    const { url } = await contextServer();
    const headers = { 'x-request-attempt': '3', 'x-request-priority': 'Critical', traceparent: TRACEPARENT, baggage: 'tenant=acme' };
    const body = JSON.parse((await send(url, { headers })).body);
    expect(body).toMatchObject({ attempt: 3, priority: 'critical', sameAfterAwait: true, traceId: TRACE_ID, baggage: 'acme' });
    expect(JSON.parse((await send(url)).body).priority).toBeNull();
  });

  it('starts a new trace for a request that brings none, with no SDK: a new trace id each time, the random flag, not sampled', async () => {
    const { url } = await contextServer();
    const first = JSON.parse((await send(url)).body);
    const second = JSON.parse((await send(url, { headers: { tracestate: 'rojo=1' } })).body);
    expect(first.traceId).toMatch(/^(?!0{32})[0-9a-f]{32}$/);
    expect(second.traceId).toMatch(/^(?!0{32})[0-9a-f]{32}$/);
    expect(second.traceId).not.toBe(first.traceId);
    expect([first.traceFlags, second.traceFlags]).toEqual([2, 2]);
  });

  it('restarts the trace and drops inbound baggage at an untrusted edge (trustInbound: false)', async () => {
    const { url } = await contextServer({ trustInbound: false });
    const body = JSON.parse((await send(url, { headers: { traceparent: TRACEPARENT, baggage: 'tenant=acme' } })).body);
    expect(body.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(body.traceId).not.toBe(TRACE_ID);
    expect(body.baggage).toBeNull();
    expect(body.sameAfterAwait).toBe(true);
  });

  it('aborts the handler signal at the deadline with DEADLINE_EXCEEDED', async () => {
    const lifeline = createLifeline({ shedding: false, timeout: 5_000 });
    const { url, close } = await startServer(
      lifeline.handler(async (_req, res) => {
        const { signal } = currentRequestContext()!;
        const started = performance.now();
        const reason = await new Promise<unknown>((resolve) => signal!.addEventListener('abort', () => resolve(signal!.reason)));
        res.end(JSON.stringify({ code: isLifelineError(reason) ? reason.code : null, waited: performance.now() - started }));
      }),
    );
    stop = close;
    const body = JSON.parse((await send(url, { headers: { 'x-request-timeout-ms': '150' } })).body);
    expect(body.code).toBe('DEADLINE_EXCEEDED');
    expect(body.waited).toBeGreaterThan(100);
    expect(body.waited).toBeLessThan(3_000);
  });

  it('aborts the handler signal with ABORTED when the client disconnects mid-request', async () => {
    const lifeline = createLifeline({ shedding: false });
    const seen: { reason?: unknown; context?: RequestContext } = {};
    const { url, close } = await startServer(
      lifeline.handler(async (req) => {
        seen.context = requestContext(req);
        const signal = currentRequestContext()!.signal!;
        seen.reason = await new Promise((resolve) => signal.addEventListener('abort', () => resolve(signal.reason)));
      }),
    );
    stop = close;
    await sendAndHangUp(url, '/slow', 100);
    await waitFor(() => seen.reason !== undefined, 5_000, 'the abort');
    expect(isLifelineError(seen.reason, 'ABORTED')).toBe(true);
    expect(seen.context?.deadline?.expired).toBe(false);
  });

  it('gives a signal already aborted when it is first read after the client left', async () => {
    const lifeline = createLifeline({ shedding: false });
    let signal: AbortSignal | undefined;
    const { url, close } = await startServer(
      lifeline.handler(async (req, res) => {
        await new Promise((resolve) => res.once('close', resolve));
        signal = requestContext(req)!.signal;
      }),
    );
    stop = close;
    await sendAndHangUp(url, '/', 50);
    await waitFor(() => signal !== undefined, 5_000, 'the handler');
    expect(signal!.aborted).toBe(true);
    expect(isLifelineError(signal!.reason, 'ABORTED')).toBe(true);
  });

  it('answers 504 at once for a request whose inbound deadline is already spent', async () => {
    let ran = 0;
    const lifeline = createLifeline({ shedding: false });
    const { url, close } = await startServer(lifeline.handler((_req, res) => void (ran++, res.end('ran'))));
    stop = close;
    const reply = await send(url, { headers: { 'x-request-timeout-ms': '0' } });
    expect(reply.status).toBe(504);
    expect(JSON.parse(reply.body)).toMatchObject({ code: 'DEADLINE_EXCEEDED', requestId: reply.headers['x-request-id'] });
    expect(ran).toBe(0);
    expect(lifeline.snapshot().refused.deadlineSpent).toBe(1);
  });
});

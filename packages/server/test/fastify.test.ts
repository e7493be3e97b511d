import { setTimeout as delay } from 'node:timers/promises';
import { isLifelineError, LifelineError } from '@lifeline/core';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { lifelinePlugin } from '../src/fastify.ts';
import { createLifeline, currentRequestContext, type Lifeline, type LifelineOptions } from '../src/index.ts';
import { gate, send, sendAndHangUp, waitFor } from './helpers.ts';

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function start(options: LifelineOptions = {}, plugin: { errorHandler?: boolean } = {}): Promise<{ url: string; lifeline: Lifeline; app: FastifyInstance }> {
  const lifeline = createLifeline({ shedding: false, ...options });
  app = Fastify();
  await app.register(lifelinePlugin, { lifeline, ...plugin });
  return { url: '', lifeline, app };
}

async function listen(): Promise<string> {
  return app!.listen({ port: 0, host: '127.0.0.1' });
}

describe('Fastify plugin', () => {
  it('keeps the request context into the handler, after awaits, with and without a body', async () => {
    const { app } = await start({ timeout: 2_000 });
    app.get('/ctx', async (request) => {
      await delay(5);
      const current = currentRequestContext();
      return { same: current === request.lifeline, requestId: current?.requestId, remaining: current?.deadline?.remaining() };
    });
    app.post('/ctx', async (request) => {
      await delay(5);
      await new Promise((resolve) => setImmediate(resolve));
      return { same: currentRequestContext() === request.lifeline, body: request.body };
    });
    const url = await listen();
    const got = await send(url, { path: '/ctx', headers: { 'x-request-id': 'fastify-1', 'x-request-timeout-ms': '500' } });
    expect(got.headers['x-request-id']).toBe('fastify-1');
    const body = JSON.parse(got.body);
    expect(body).toMatchObject({ same: true, requestId: 'fastify-1' });
    expect(body.remaining).toBeLessThanOrEqual(500);
    const posted = await send(url, { method: 'POST', path: '/ctx', headers: { 'content-type': 'application/json' }, body: '{"a":1}' });
    expect(JSON.parse(posted.body)).toEqual({ same: true, body: { a: 1 } });
  });

  it('echoes a generated x-request-id on every answer, a 404 included', async () => {
    await start();
    const url = await listen();
    const missing = await send(url, { path: '/nowhere' });
    expect(missing.status).toBe(404);
    // newRequestId(): a per-process random prefix and a counter.
    expect(missing.headers['x-request-id']).toMatch(/^[A-Za-z0-9_-]{22}-[0-9a-z]{1,11}$/);
  });

  it('aborts request.lifeline.signal when the client disconnects', async () => {
    const { app } = await start();
    let reason: unknown;
    app.get('/slow', async (request) => {
      const signal = request.lifeline.signal!;
      reason = await new Promise((resolve) => signal.addEventListener('abort', () => resolve(signal.reason)));
      return 'late';
    });
    const url = await listen();
    await sendAndHangUp(url, '/slow', 100);
    await waitFor(() => reason !== undefined, 5_000, 'the abort');
    expect(isLifelineError(reason, 'ABORTED')).toBe(true);
  });

  it('sheds in onRequest, before the body is parsed or any later hook runs', async () => {
    const { app } = await start({ shedding: { maxConcurrent: 1, maxQueue: 0 } });
    const held = gate();
    let parsed = 0;
    let handled = 0;
    app.addHook('preParsing', (_request, _reply, payload, done) => {
      parsed++;
      done(null, payload);
    });
    app.post('/work', async () => {
      handled++;
      await held.promise;
      return { ok: true };
    });
    const url = await listen();
    const json = { 'content-type': 'application/json' };
    const first = send(url, { method: 'POST', path: '/work', headers: json, body: '{}' });
    await waitFor(() => handled === 1, 5_000, 'the first request');
    const shed = await send(url, { method: 'POST', path: '/work', headers: json, body: '{"big":true}' });
    expect(shed.status).toBe(503);
    expect(shed.headers['retry-after']).toBe('1');
    expect(JSON.parse(shed.body)).toMatchObject({ code: 'OVERLOADED', requestId: shed.headers['x-request-id'] });
    expect([parsed, handled]).toEqual([1, 1]);
    held.open();
    expect((await first).status).toBe(200);
  });

  it('answers the health probes ahead of routing', async () => {
    const { app, lifeline } = await start({ health: { checks: { db: () => dbUp } } });
    let dbUp = true;
    app.get('/health/live', () => 'shadowed');
    const url = await listen();
    const live = await send(url, { path: '/health/live' });
    expect([live.status, live.headers['content-type'], JSON.parse(live.body)]).toEqual([200, 'application/health+json', { status: 'pass' }]);
    expect(JSON.parse((await send(url, { path: '/health/ready' })).body)).toEqual({ status: 'pass', checks: { db: 'pass' } });
    dbUp = false;
    const down = await send(url, { path: '/health/ready' });
    expect(down.status).toBe(503);
    expect(JSON.parse(down.body)).toEqual({ status: 'fail', checks: { db: 'fail' } });
    const head = await send(url, { method: 'HEAD', path: '/health/ready' });
    expect([head.status, head.body]).toEqual([503, '']);
    expect(lifeline.snapshot().requests.total).toBe(0);
  });

  it('maps Lifeline errors to problem responses and hides unexpected messages', async () => {
    const { app } = await start();
    app.get('/open', () => {
      throw new LifelineError('CIRCUIT_OPEN', 'payment is open', { retryAfterMs: 2_500 });
    });
    app.get('/deadline', () => {
      throw new LifelineError('DEADLINE_EXCEEDED', 'deadline exceeded');
    });
    app.get('/bug', () => {
      throw new Error('secret connection string');
    });
    app.post('/validated', { schema: { body: { type: 'object', required: ['amount'] } } }, () => 'ok');
    const url = await listen();
    const open = await send(url, { path: '/open', headers: { 'x-request-id': 'r-open' } });
    expect(open.status).toBe(503);
    expect(open.headers['retry-after']).toBe('3');
    expect(open.headers['content-type']).toBe('application/problem+json');
    expect(JSON.parse(open.body)).toEqual({
      type: 'urn:lifeline:problem:circuit-open',
      title: 'Dependency unavailable',
      status: 503,
      detail: 'A dependency of this service is unavailable; try again later.',
      code: 'CIRCUIT_OPEN',
      requestId: 'r-open',
    });
    expect((await send(url, { path: '/deadline' })).status).toBe(504);
    const bug = await send(url, { path: '/bug' });
    expect(bug.status).toBe(500);
    expect(bug.body).not.toContain('secret');
    expect(JSON.parse(bug.body)).toMatchObject({ code: 'INTERNAL', status: 500 });
    // A client error stays Fastify's.
    const invalid = await send(url, { method: 'POST', path: '/validated', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(invalid.status).toBe(400);
    expect(JSON.parse(invalid.body)).toMatchObject({ statusCode: 400, code: 'FST_ERR_VALIDATION' });
  });

  it('leaves errors to Fastify with errorHandler: false', async () => {
    const { app } = await start({}, { errorHandler: false });
    app.get('/open', () => {
      throw new LifelineError('CIRCUIT_OPEN', 'payment is open');
    });
    const url = await listen();
    const reply = await send(url, { path: '/open' });
    expect(reply.status).toBe(500);
    expect(JSON.parse(reply.body)).toMatchObject({ statusCode: 500 });
  });

  it('refuses bad configuration when the plugin or a route is declared', async () => {
    const bare = Fastify();
    await expect(bare.register(lifelinePlugin, {} as never)).rejects.toThrow('the Fastify plugin needs option `lifeline`');
    await bare.close();
    const { app } = await start();
    expect(() => app.post('/x', { config: { idempotency: { ttlMs: 0 } } }, () => 'x')).toThrow(
      'lifeline: option `idempotency.ttlMs` must be >= 1, got 0',
    );
  });

  it('is attached to the Lifeline shutdown: new connections are refused while in-flight requests complete', async () => {
    const { app, lifeline } = await start();
    const held = gate();
    let entered = false;
    app.get('/slow', async () => {
      entered = true;
      await held.promise;
      return 'done';
    });
    const url = await listen();
    const slow = send(url, { path: '/slow' });
    // Shut down only once the request is in the handler, however slow the machine is.
    await waitFor(() => entered, 5_000, 'the slow request');
    const shutdown = lifeline.shutdown();
    await waitFor(() => lifeline.state === 'draining', 5_000, 'draining');
    await expect(send(url, { path: '/slow' })).rejects.toThrow(/ECONNREFUSED/);
    held.open();
    expect((await slow).status).toBe(200);
    expect((await shutdown).drained).toBe(true);
  });
});

import type { Server } from 'node:http';
import { Bulkhead } from '@lifeline/bulkhead';
import express from 'express';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { resilienceHandler, resilienceSnapshot, type ResilienceSnapshot, type ResilienceSources } from '../src/admin.ts';
import { lifelineErrorHandler, lifelineMiddleware } from '../src/express.ts';
import { lifelinePlugin } from '../src/fastify.ts';
import { createLifeline, type Lifeline } from '../src/index.ts';
import { closeServer, gate, listen, send, startServer } from './helpers.ts';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function lifelineFor(options: Parameters<typeof createLifeline>[0] = {}): Lifeline {
  const lifeline = createLifeline({ shedding: { maxConcurrent: 8, maxQueue: 2 }, ...options });
  cleanups.push(() => lifeline.shutdown());
  return lifeline;
}

/** Two real parts with a snapshot(): what a client's bulkhead reports is what a client reports of it. */
function parts(): { payment: Bulkhead; users: Bulkhead } {
  return { payment: new Bulkhead({ name: 'payment', maxConcurrent: 4, maxQueue: 0 }), users: new Bulkhead({ name: 'users', maxConcurrent: 2, maxQueue: 1 }) };
}

/** A logger that keeps what it is given. */
function recordingLogger(): { lines: { level: string; object: object; message: string }[] } & Record<'info' | 'warn' | 'error', (object: object, message: string) => void> {
  const lines: { level: string; object: object; message: string }[] = [];
  const at = (level: string) => (object: object, message: string) => void lines.push({ level, object, message });
  return { lines, info: at('info'), warn: at('warn'), error: at('error') };
}

describe('resilienceSnapshot', () => {
  it('is the server snapshot and each named client snapshot, as plain JSON', () => {
    const lifeline = lifelineFor();
    const { payment, users } = parts();
    expect(payment.tryAcquire()).toBe(true);
    const snapshot = resilienceSnapshot({ lifeline, clients: { payment, users } });
    expect(snapshot).toEqual({ server: lifeline.snapshot(), clients: { payment: payment.snapshot(), users: users.snapshot() } });
    expect(snapshot.clients.payment.inFlight).toBe(1);
    expect(snapshot.server.state).toBe('serving');
    expect(JSON.parse(JSON.stringify(snapshot))).toEqual(snapshot);
  });

  it('has an empty clients object when none are named', () => {
    const lifeline = lifelineFor({ shedding: false });
    expect(resilienceSnapshot({ lifeline })).toEqual({ server: lifeline.snapshot(), clients: {} });
  });

  it('adds the fields extra returns, but server and clients are always the snapshots', () => {
    const lifeline = lifelineFor();
    const { payment } = parts();
    const snapshot = resilienceSnapshot({
      lifeline,
      clients: { payment },
      extra: () => ({ instance: 'order-1', server: 'not this', clients: 'nor this' }),
    });
    expect(snapshot).toEqual({ instance: 'order-1', server: lifeline.snapshot(), clients: { payment: payment.snapshot() } });
  });

  it('refuses bad sources with an error naming the option', () => {
    const lifeline = lifelineFor();
    const cases: [unknown, RegExp][] = [
      [undefined, /resilience sources must be an object with at least `lifeline`, got undefined/],
      [null, /option `sources` must be an object, got null/],
      [{}, /option `lifeline` must be the Lifeline made by createLifeline\(\).*got undefined/],
      [{ lifeline: {} }, /option `lifeline` must be .* got an object without snapshot\(\)/],
      [{ lifeline, client: {} }, /unknown option `client` \(did you mean `clients`\?\); allowed: lifeline, clients, extra/],
      [{ lifeline, clients: [] }, /option `clients` must be an object, got an array/],
      [{ lifeline, clients: { payment: 'http://payment' } }, /option `clients.payment` must have a snapshot\(\) method .* got string/],
      [{ lifeline, clients: { payment: { snapshot: true } } }, /option `clients.payment` must have a snapshot\(\) method/],
      [{ lifeline, extra: { instance: 'a' } }, /option `extra` must be a function, got an object/],
    ];
    for (const [sources, message] of cases) {
      expect(() => resilienceSnapshot(sources as ResilienceSources)).toThrow(message);
      expect(() => resilienceHandler(sources as ResilienceSources)).toThrow(TypeError);
    }
  });
});

describe('resilienceHandler on node:http', () => {
  it('answers the live state as application/json with cache-control: no-store', async () => {
    const lifeline = lifelineFor();
    const { payment, users } = parts();
    const admin = resilienceHandler({ lifeline, clients: { payment, users }, extra: () => ({ pid: process.pid }) });
    const { url, close } = await startServer(lifeline.handler((req, res) => (req.url === '/admin/resilience' ? admin(req, res) : res.end('app'))));
    cleanups.push(close);

    const first = await send(url, { path: '/admin/resilience' });
    expect(first.status).toBe(200);
    expect(first.headers['content-type']).toBe('application/json');
    expect(first.headers['cache-control']).toBe('no-store');
    expect(Number(first.headers['content-length'])).toBe(Buffer.byteLength(first.body));
    const body = JSON.parse(first.body) as ResilienceSnapshot<{ payment: Bulkhead; users: Bulkhead }, { pid: number }>;
    expect(Object.keys(body).sort()).toEqual(['clients', 'pid', 'server']);
    expect(body.pid).toBe(process.pid);
    // Taken while this very request is in flight.
    expect(body.server.requests).toEqual({ total: 1, inFlight: 1 });
    expect(body.clients).toEqual({ payment: payment.snapshot(), users: users.snapshot() });

    // Not cached: the next answer sees what changed.
    expect(users.tryAcquire()).toBe(true);
    await send(url, { path: '/other' });
    const second = JSON.parse((await send(url, { path: '/admin/resilience' })).body);
    expect(second.server.requests.total).toBe(3);
    expect(second.clients.users.inFlight).toBe(1);
  });

  it('answers HEAD with the headers and no body', async () => {
    const lifeline = lifelineFor();
    const { url, close } = await startServer(lifeline.handler(resilienceHandler({ lifeline })));
    cleanups.push(close);
    const reply = await send(url, { method: 'HEAD', path: '/admin/resilience' });
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe('application/json');
    expect(Number(reply.headers['content-length'])).toBeGreaterThan(0);
    expect(reply.body).toBe('');
  });

  it('answers a snapshot that throws with a 500 problem carrying the request id, and reports the error to the logger', async () => {
    const logger = recordingLogger();
    const lifeline = lifelineFor({ logger });
    const broken = {
      snapshot(): never {
        throw new Error('registry at 10.0.0.7 unreachable');
      },
    };
    const { url, close } = await startServer(lifeline.handler(resilienceHandler({ lifeline, clients: { broken } })));
    cleanups.push(close);
    const reply = await send(url, { path: '/admin/resilience', headers: { 'x-request-id': 'req-admin-1' } });
    expect(reply.status).toBe(500);
    expect(reply.headers['content-type']).toBe('application/problem+json');
    const problem = JSON.parse(reply.body);
    expect(problem).toMatchObject({ status: 500, code: 'INTERNAL', requestId: 'req-admin-1' });
    expect(reply.body).not.toContain('10.0.0.7');
    const errors = logger.lines.filter((line) => line.level === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]!.object).toMatchObject({ requestId: 'req-admin-1' });
    expect((errors[0]!.object as { err: Error }).err.message).toBe('registry at 10.0.0.7 unreachable');
  });

  it('reports the shutdown phase while the server is stopping', async () => {
    const held = gate();
    const lifeline = createLifeline({ shedding: false, health: false, shutdown: { deregister: [() => held.promise] } });
    const { server, url } = await startServer(lifeline.handler(resilienceHandler({ lifeline })));
    lifeline.attach(server);
    cleanups.push(() => closeServer(server));
    const stopping = lifeline.shutdown();
    // The deregister hook holds the shutdown before the servers stop accepting.
    const reply = await send(url, { path: '/admin/resilience' });
    expect(JSON.parse(reply.body).server.state).toBe('stopping');
    held.open();
    expect((await stopping).drained).toBe(true);
    expect(lifeline.snapshot().state).toBe('stopped');
  });
});

describe('resilienceHandler and resilienceSnapshot from the frameworks', () => {
  it('mounts on an Express route', async () => {
    const lifeline = lifelineFor();
    const { payment } = parts();
    const app = express();
    app.use(lifelineMiddleware(lifeline));
    app.get('/admin/resilience', resilienceHandler({ lifeline, clients: { payment } }));
    app.use(lifelineErrorHandler(lifeline));
    const server: Server = app.listen(0, '127.0.0.1');
    cleanups.push(() => closeServer(server));
    const reply = await send(await listen(server), { path: '/admin/resilience' });
    expect(reply.status).toBe(200);
    expect(reply.headers['cache-control']).toBe('no-store');
    const body = JSON.parse(reply.body);
    expect(body.clients).toEqual({ payment: payment.snapshot() });
    expect(body.server.requests.inFlight).toBe(1);
  });

  it('answers from a Fastify route through resilienceSnapshot', async () => {
    const lifeline = lifelineFor();
    const { users } = parts();
    const app: FastifyInstance = Fastify();
    cleanups.push(() => app.close());
    await app.register(lifelinePlugin, { lifeline });
    app.get('/admin/resilience', (_request, reply) => reply.header('cache-control', 'no-store').send(resilienceSnapshot({ lifeline, clients: { users } })));
    const reply = await send(await app.listen({ port: 0, host: '127.0.0.1' }), { path: '/admin/resilience' });
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toMatch(/^application\/json/);
    expect(reply.headers['cache-control']).toBe('no-store');
    const body = JSON.parse(reply.body);
    expect(body.clients).toEqual({ users: users.snapshot() });
    expect(body.server.requests).toEqual({ total: 1, inFlight: 1 });
  });
});

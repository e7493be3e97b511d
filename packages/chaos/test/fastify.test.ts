import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { errors } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
// @lifeline/server is not a dependency of this package: its sources are imported directly,
// to test the composition the demo relies on.
import { lifelinePlugin } from '@lifeline/server/fastify';
import { createLifeline } from '@lifeline/server';
import { chaosPlugin } from '../src/fastify.ts';
import { createChaos, type Chaos, type ChaosOptions } from '../src/index.ts';
import { failure, rawExchange, send, waitFor } from './helpers.ts';

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

interface Setup {
  chaos: Chaos;
  url: string;
  handled: string[];
}

async function start(options: ChaosOptions, plugin: { admin?: boolean } = {}): Promise<Setup> {
  const chaos = createChaos(options);
  const handled: string[] = [];
  app = Fastify();
  await app.register(chaosPlugin, { chaos, ...plugin });
  app.get('/users/:id', (request, reply) => {
    handled.push(request.url);
    return reply.send({ id: (request.params as { id: string }).id });
  });
  app.post('/charges', async (request, reply) => {
    handled.push(request.url);
    return reply.code(201).send({ charged: (request.body as { amount: number }).amount });
  });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return { chaos, url, handled };
}

describe('chaosPlugin faults', () => {
  it('latency delays the request, then the handler runs', async () => {
    const { url, handled } = await start({ enabled: true, rules: [{ path: '/users/:id', percent: 100, fault: { type: 'latency', ms: 150 } }] });
    const started = performance.now();
    const reply = await send(`${url}/users/7`);
    expect(performance.now() - started).toBeGreaterThanOrEqual(130);
    expect(reply).toMatchObject({ status: 200, body: '{"id":"7"}' });
    expect(handled).toEqual(['/users/7']);
  });

  it('error answers the problem before the body is read; the handler never runs', async () => {
    const { url, handled } = await start({
      enabled: true,
      rules: [{ id: 'e', method: 'POST', path: '/charges', percent: 100, fault: { type: 'error', status: 429, retryAfterMs: 3_000 } }],
    });
    const reply = await send(`${url}/charges`, { method: 'POST', body: '{"amount":1}' });
    expect(reply.status).toBe(429);
    expect(reply.headers['content-type']).toBe('application/problem+json');
    expect(reply.headers['retry-after']).toBe('3');
    expect(JSON.parse(reply.body)).toEqual({
      type: 'urn:lifeline:problem:chaos',
      title: 'Too Many Requests',
      status: 429,
      detail: 'injected by chaos rule e',
      code: 'CHAOS',
    });
    expect(handled).toEqual([]);
  });

  it('reset destroys the connection; the handler never runs', async () => {
    const { url, handled } = await start({ enabled: true, rules: [{ path: '*', percent: 100, fault: { type: 'reset' } }] });
    const error = await failure(send(`${url}/users/1`));
    expect(error).toBeInstanceOf(errors.SocketError);
    expect(handled).toEqual([]);
  });

  it('hang never answers and destroys the connection after hangMs', async () => {
    const { url, handled } = await start({ enabled: true, hangMs: 100, rules: [{ path: '*', percent: 100, fault: { type: 'hang' } }] });
    const error = await failure(send(`${url}/users/1`));
    expect(error).toBeInstanceOf(errors.SocketError);
    expect(handled).toEqual([]);
  });

  it('lose-response runs the handler, then no byte of its answer reaches the client', async () => {
    const { url, handled } = await start({ enabled: true, rules: [{ method: 'POST', path: '/charges', percent: 100, fault: { type: 'lose-response' } }] });
    const error = await failure(send(`${url}/charges`, { method: 'POST', body: '{"amount":3}' }));
    expect(error).toBeInstanceOf(errors.SocketError);
    expect(handled).toEqual(['/charges']);
    const received = await rawExchange(url, 'POST /charges HTTP/1.1\r\nhost: x\r\ncontent-type: application/json', '{"amount":4}');
    expect(received).toBe('');
    expect(handled).toEqual(['/charges', '/charges']);
  });

  it('matches a rule on the route pattern as well as on the URL path', async () => {
    const { url, handled, chaos } = await start({
      enabled: true,
      rules: [
        { id: 'exact', path: '/users/1', percent: 100, fault: { type: 'error', status: 418 } },
        { id: 'pattern', path: '/users/:id', percent: 100, fault: { type: 'error', status: 503 } },
      ],
    });
    expect((await send(`${url}/users/1`)).status).toBe(418);
    expect((await send(`${url}/users/2?full=1`)).status).toBe(503);
    chaos.set([{ path: '/users/:id', method: 'POST', percent: 100, fault: { type: 'reset' } }]);
    expect((await send(`${url}/users/3`)).status).toBe(200);
    expect(handled).toEqual(['/users/3']);
  });

  it('does nothing while disabled: no fault, no admin routes', async () => {
    const { url, handled } = await start({ rules: [{ path: '*', percent: 100, fault: { type: 'reset' } }] });
    expect((await send(`${url}/users/1`)).status).toBe(200);
    const admin = await send(`${url}/admin/chaos`);
    expect(admin.status).toBe(404);
    expect(JSON.parse(admin.body)).toMatchObject({ message: 'Route GET:/admin/chaos not found' }); // Fastify's own 404
    expect((await send(`${url}/admin/chaos`, { method: 'PUT', body: '{"rules":[]}' })).status).toBe(404);
    expect(handled).toEqual(['/users/1']);
  });
});

describe('chaosPlugin admin routes', () => {
  it('GET, PUT, POST and DELETE the rules; the admin routes are never faulted', async () => {
    const { url, chaos } = await start({ enabled: true, seed: 3, rules: [{ id: 'all', path: '*', percent: 100, fault: { type: 'reset' } }] });
    const got = await send(`${url}/admin/chaos`);
    expect(got.status).toBe(200);
    expect(got.headers['content-type']).toBe('application/json');
    expect(JSON.parse(got.body)).toMatchObject({ enabled: true, seed: 3, rules: [{ id: 'all' }], injected: { all: 0 } });

    const put = await send(`${url}/admin/chaos`, { method: 'PUT', body: JSON.stringify({ rules: [{ path: '/users/:id', percent: 100, fault: { type: 'error', status: 500 } }] }) });
    expect(put.status).toBe(200);
    expect((await send(`${url}/users/9`)).status).toBe(500);

    const post = await send(`${url}/admin/chaos`, { method: 'POST', body: JSON.stringify({ id: 'slow', path: '/charges', percent: 0, fault: { type: 'latency', ms: 10 } }) });
    expect(post.status).toBe(201);
    expect(JSON.parse(post.body)).toMatchObject({ id: 'slow', method: '*' });
    expect(chaos.rules().map((r) => r.id)).toEqual(['r1', 'slow']);

    expect((await send(`${url}/admin/chaos/r1`, { method: 'DELETE' })).status).toBe(200);
    expect((await send(`${url}/admin/chaos/r1`, { method: 'DELETE' })).status).toBe(404);
    const cleared = await send(`${url}/admin/chaos`, { method: 'DELETE' });
    expect(JSON.parse(cleared.body)).toMatchObject({ rules: [], injected: {} });
  });

  it('answers bad JSON and bad values with 400 CHAOS_INVALID, whatever the content-type, and keeps the rules', async () => {
    const { url, chaos } = await start({ enabled: true, rules: [{ id: 'keep', path: '/x', percent: 1, fault: { type: 'hang' } }] });
    const bad = await send(`${url}/admin/chaos`, { method: 'PUT', body: '{"rules":' });
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body)).toMatchObject({ type: 'urn:lifeline:problem:chaos-invalid', code: 'CHAOS_INVALID', status: 400 });
    const value = await send(`${url}/admin/chaos`, {
      method: 'POST',
      body: '{"path":"/x","percent":5,"fault":{"type":"error","status":200}}',
      headers: { 'content-type': 'text/plain' },
    });
    expect(value.status).toBe(400);
    expect(JSON.parse(value.body).detail).toBe('rule.fault.status: must be an integer from 400 to 599, got 200');
    expect(chaos.rules().map((r) => r.id)).toEqual(['keep']);
  });

  it('registers no admin routes with admin: false, and still never faults the admin path', async () => {
    const chaos = createChaos({ enabled: true, rules: [{ path: '*', percent: 100, fault: { type: 'reset' } }] });
    app = Fastify();
    await app.register(chaosPlugin, { chaos, admin: false });
    app.get('/admin/chaos', (_request, reply) => reply.send('mine'));
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    expect(await send(`${url}/admin/chaos`)).toMatchObject({ status: 200, body: 'mine' });
  });

  it('refuses bad plugin options', async () => {
    app = Fastify();
    await expect(app.register(chaosPlugin, {} as never)).rejects.toThrow('lifeline: the chaos Fastify plugin needs option `chaos` (from createChaos()), got undefined');
    app = Fastify();
    await expect(app.register(chaosPlugin, { chaos: createChaos(), admn: false } as never)).rejects.toThrow('unknown option `chaosPlugin.admn` (did you mean `admin`?)');
  });
});

describe('with @lifeline/server: a lost response is replayed, not charged twice', () => {
  it('the first POST is processed but its response lost; the retry with the same Idempotency-Key gets the stored response', async () => {
    const lifeline = createLifeline({ shedding: false });
    const chaos = createChaos({ enabled: true, rules: [{ id: 'lose', method: 'POST', path: '/charges', percent: 100, fault: { type: 'lose-response' } }] });
    let charges = 0;
    app = Fastify();
    await app.register(lifelinePlugin, { lifeline, attach: false });
    await app.register(chaosPlugin, { chaos });
    app.post('/charges', { config: { idempotency: { required: true } } }, async (request, reply) => {
      charges++;
      return reply.code(201).send({ id: `ch_${charges}`, amount: (request.body as { amount: number }).amount });
    });
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    const key = randomUUID();
    const charge = (): ReturnType<typeof send> => send(`${url}/charges`, { method: 'POST', body: '{"amount":42}', headers: { 'idempotency-key': key } });

    const lost = await failure(charge());
    expect(lost).toBeInstanceOf(errors.SocketError);
    expect(charges).toBe(1);
    expect(chaos.snapshot().injected).toEqual({ lose: 1 });

    chaos.clear(); // the network is fine again
    const retried = await charge();
    expect(retried.status).toBe(201);
    expect(retried.headers['idempotent-replayed']).toBe('true');
    expect(JSON.parse(retried.body)).toEqual({ id: 'ch_1', amount: 42 });
    expect(charges).toBe(1);
    await waitFor(() => lifeline.snapshot().requests.inFlight === 0, 5_000, 'the requests to finish');
    expect(lifeline.snapshot().idempotency).toMatchObject({ executed: 1, replayed: 1 });
  });
});

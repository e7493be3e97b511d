import { Agent, fetch, request, type Dispatcher } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { createClient, createDispatcher, createInterceptor, lifeline } from '../src/index.ts';
import { quickBackoff, startServer, type TestServer } from './servers.ts';

let server: TestServer | undefined;
let agent: Dispatcher | undefined;
afterEach(async () => {
  await agent?.destroy();
  await server?.close();
  agent = server = undefined;
});

describe('the interceptor form', () => {
  it('fetch() retries a 503 and gets the success', async () => {
    server = await startServer((_req, res, n) => (n < 3 ? res.writeHead(503).end('busy') : res.writeHead(200).end('ok')));
    agent = new Agent();
    const dispatcher = agent.compose(createInterceptor({ retry: { backoff: quickBackoff } }));
    const res = await fetch(`${server.url}/x`, { dispatcher });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('ok');
    expect(server.seen).toHaveLength(3);
  });

  it('fetch() receives the last response, body intact, when retries run out', async () => {
    server = await startServer((_req, res) => res.writeHead(503, { 'x-try': 'n' }).end('still busy'));
    agent = new Agent();
    const dispatcher = agent.compose(createInterceptor({ retry: { backoff: quickBackoff, maxAttempts: 2 } }));
    const res = await fetch(`${server.url}/x`, { dispatcher });
    expect(res.status).toBe(503);
    expect(res.headers.get('x-try')).toBe('n');
    expect(await res.text()).toBe('still busy');
    expect(server.seen).toHaveLength(2);
  });

  it('fetch() fails at the deadline of a hanging server', async () => {
    server = await startServer(() => {});
    agent = new Agent();
    const dispatcher = agent.compose(createInterceptor({ timeout: 300, attemptTimeout: 100, retry: { backoff: quickBackoff } }));
    const started = performance.now();
    const error = await fetch(`${server.url}/hang`, { dispatcher }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).cause).toMatchObject({ code: expect.stringMatching(/ATTEMPT_TIMEOUT|DEADLINE_EXCEEDED/) });
    expect(performance.now() - started).toBeLessThan(300 + 300);
    expect(server.seen.length).toBeGreaterThanOrEqual(2);
  });

  it("fetch()'s own AbortSignal still works through the interceptor", async () => {
    server = await startServer(() => {});
    agent = new Agent();
    const dispatcher = agent.compose(createInterceptor({ timeout: 10_000, attemptTimeout: 10_000 }));
    const error = await fetch(`${server.url}/hang`, { dispatcher, signal: AbortSignal.timeout(100) }).catch((e: unknown) => e);
    expect((error as Error).name).toMatch(/TimeoutError|AbortError/);
  });

  it('undici.request() with createDispatcher retries a reset GET and does not retry an unkeyed POST', async () => {
    server = await startServer((req, res, n) => (n === 1 || req.method === 'POST' ? req.socket.destroy() : res.writeHead(200).end('ok')));
    const dispatcher = createDispatcher({ retry: { backoff: quickBackoff } });
    agent = dispatcher;
    const res = await request(`${server.url}/get`, { dispatcher });
    expect(await res.body.text()).toBe('ok');
    expect(server.seen).toHaveLength(2);
    await expect(request(`${server.url}/post`, { method: 'POST', body: '{}', dispatcher })).rejects.toMatchObject({ code: 'SOCKET' });
    expect(server.seen).toHaveLength(3);
    const keyed = request(`${server.url}/post`, { method: 'POST', body: '{}', headers: { 'idempotency-key': '"k1"' }, dispatcher });
    await expect(keyed).rejects.toMatchObject({ code: 'SOCKET' });
    expect(server.seen).toHaveLength(6); // keyed: 3 attempts
  });

  it('lifeline() is the same interceptor: composed into your own Agent, its retries draw on one budget', async () => {
    server = await startServer((_req, res) => res.writeHead(503).end('busy'));
    agent = new Agent();
    // One retry in the window (ratio 0, 0.1/s over 10 s): the first fetch spends it, the second has none.
    const dispatcher = agent.compose(lifeline({ retry: { backoff: quickBackoff, budget: { ratio: 0, minRetriesPerSecond: 0.1 } } }));
    const first = await fetch(`${server.url}/a`, { dispatcher });
    expect(first.status).toBe(503); // the answer wins over the exhausted budget
    expect(await first.text()).toBe('busy');
    expect(server.seen).toHaveLength(2);
    const second = await fetch(`${server.url}/b`, { dispatcher });
    expect(second.status).toBe(503);
    expect(server.seen).toHaveLength(3);
  });

  it('fetch() gets the default headers (its own value wins), one request id on every attempt, and the attempt number', async () => {
    server = await startServer((_req, res, n) => (n === 1 ? res.writeHead(503).end() : res.writeHead(200).end()));
    const dispatcher = createDispatcher({ headers: { 'x-team': 'checkout', 'x-tier': 'gold' }, retry: { backoff: quickBackoff } });
    agent = dispatcher;
    await (await fetch(`${server.url}/`, { dispatcher, headers: { 'X-Tier': 'silver' } })).arrayBuffer();
    expect(server.seen).toHaveLength(2);
    const [one, two] = server.seen.map((s) => s.headers);
    expect(one).toMatchObject({ 'x-team': 'checkout', 'x-tier': 'silver', 'x-request-attempt': '1' });
    expect(two).toMatchObject({ 'x-team': 'checkout', 'x-tier': 'silver', 'x-request-attempt': '2' });
    expect(one!['x-request-id']).toMatch(/\S/);
    expect(two!['x-request-id']).toBe(one!['x-request-id']);
  });

  it('the client and a dispatcher made from the same options behave alike on a final 503', async () => {
    server = await startServer((_req, res) => res.writeHead(503, { 'retry-after': '0' }).end('busy'));
    const options = { baseUrl: server.url, retry: { backoff: quickBackoff, maxAttempts: 2 }, breaker: false } as const;
    const client = createClient(options);
    const dispatcher = createDispatcher(options);
    agent = dispatcher;
    await expect(client.get('/')).rejects.toMatchObject({ code: 'HTTP_STATUS', status: 503, attempts: 2, body: 'busy' });
    const res = await fetch(`${server.url}/`, { dispatcher });
    expect([res.status, await res.text()]).toEqual([503, 'busy']);
    expect(server.seen).toHaveLength(4);
    await client.close();
  });
});

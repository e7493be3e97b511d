import { Agent, fetch, request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { createDispatcher, createInterceptor } from '../src/index.ts';
import { quickBackoff, startServer, type TestServer } from './servers.ts';

let server: TestServer | undefined;
let agent: Agent | undefined;
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
    agent = dispatcher as Agent;
    const res = await request(`${server.url}/get`, { dispatcher });
    expect(await res.body.text()).toBe('ok');
    expect(server.seen).toHaveLength(2);
    await expect(request(`${server.url}/post`, { method: 'POST', body: '{}', dispatcher })).rejects.toMatchObject({ code: 'SOCKET' });
    expect(server.seen).toHaveLength(3);
    const keyed = request(`${server.url}/post`, { method: 'POST', body: '{}', headers: { 'idempotency-key': '"k1"' }, dispatcher });
    await expect(keyed).rejects.toMatchObject({ code: 'SOCKET' });
    expect(server.seen).toHaveLength(6); // keyed: 3 attempts
  });
});

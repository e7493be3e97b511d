import { isLifelineError } from '@lifeline/core';
import { Agent, fetch, request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { createClient, createInterceptor, type LifelineClient } from '../src/index.ts';
import { startServer, type TestServer } from './servers.ts';

let server: TestServer | undefined;
let client: LifelineClient | undefined;
let agent: Agent | undefined;
afterEach(async () => {
  await client?.close();
  await agent?.destroy();
  await server?.close();
  server = client = agent = undefined;
});

async function okServer(): Promise<TestServer> {
  server = await startServer((_req, res) => res.writeHead(200).end('ok'));
  return server;
}

describe('per-call options are checked under the name the caller used', () => {
  it('names `attemptTimeout` and `timeout`, not what they become inside', async () => {
    const { url } = await okServer();
    client = createClient({ name: 'dep', baseUrl: url });
    await expect(client.get('/x', { attemptTimeout: 'abc' as never })).rejects.toThrow(
      new TypeError('lifeline: option `attemptTimeout` must be a number, got "abc"'),
    );
    await expect(client.get('/x', { timeout: '5' as never })).rejects.toThrow(new TypeError('lifeline: option `timeout` must be a number, got "5"'));
    await expect(client.get('/x', { timeout: -1 })).rejects.toThrow(new RangeError('lifeline: option `timeout` must be >= 0, got -1'));
    await expect(client.get('/x', { attemptTimeout: 0 })).rejects.toThrow(new RangeError('lifeline: option `attemptTimeout` must be > 0, got 0'));
    await expect(client.request({ path: '/x', timeout: Number.NaN })).rejects.toThrow('option `timeout` must be a number, got NaN');
    // Nothing was sent for any of them.
    expect(server!.seen).toHaveLength(0);
    expect((await client.get('/x', { timeout: 1_000, attemptTimeout: Infinity })).status).toBe(200);
  });

  it('refuses an unknown per-call option, naming the closest one', async () => {
    const { url } = await okServer();
    client = createClient({ name: 'dep', baseUrl: url });
    await expect(client.get('/x', { timout: 50 } as never)).rejects.toThrow(
      'lifeline: unknown option `timout` (did you mean `timeout`?); allowed: method, path, query, headers, body, json, idempotent, idempotencyKey, timeout, attemptTimeout, deadline, signal, priority, throwOnHttpError',
    );
    await expect(client.post('/x', { idempotencyKy: 'k' } as never)).rejects.toThrow('unknown option `idempotencyKy` (did you mean `idempotencyKey`?)');
    expect(server!.seen).toHaveLength(0);
  });
});

describe('createClient `name`', () => {
  it('defaults to the base URL’s host when not given', async () => {
    client = createClient({ baseUrl: 'http://127.0.0.1:1/v1', retry: false });
    expect(client.name).toBe('127.0.0.1:1');
    const error: unknown = await client.get('/x').catch((e: unknown) => e);
    expect(isLifelineError(error, 'CONNECT') && error.service).toBe('127.0.0.1:1');
  });
});

describe('a header value with CR or LF is refused, naming the header', () => {
  it('per call, on every verb: an INVALID_HEADER LifelineError, and nothing is sent', async () => {
    const { url } = await okServer();
    client = createClient({ name: 'dep', baseUrl: url, retry: { maxAttempts: 3 } });
    for (const call of [
      () => client!.get('/x', { headers: { 'x-note': 'a\r\nx-injected: 1' } }),
      () => client!.post('/x', { headers: { 'X-Note': 'a\nb' }, idempotent: true, body: 'b' }),
      () => client!.request({ method: 'PUT', path: '/x', headers: { 'x-list': ['ok', 'b\rc'] } }),
    ]) {
      const error: unknown = await call().catch((e: unknown) => e);
      expect(isLifelineError(error, 'INVALID_HEADER')).toBe(true);
      expect((error as Error).message).toMatch(/^dep: header `x-(note|list)` has a CR, LF or NUL in its value/i);
      expect((error as Error).message).not.toContain('injected');
      expect((error as { retryable: boolean }).retryable).toBe(false);
      expect((error as { attempts: number }).attempts).toBe(1);
    }
    expect(server!.seen).toHaveLength(0);
  });

  it('does not count against the dependency: the breaker stays closed', async () => {
    const { url } = await okServer();
    client = createClient({ name: 'dep', baseUrl: url });
    for (let i = 0; i < 8; i++) await client.get('/x', { headers: { 'x-a': 'a\nb' } }).catch(() => undefined);
    expect(client.breaker!.snapshot().state).toBe('closed');
    expect((await client.get('/x')).status).toBe(200);
  });

  it('in the client’s default headers: refused when the client is made', () => {
    expect(() => createClient({ name: 'dep', baseUrl: 'http://127.0.0.1:1', headers: { 'x-token': 'a\r\nb' } })).toThrow(
      new TypeError('lifeline: option `headers.x-token` must be a valid header value (no CR, LF or NUL)'),
    );
    expect(() => createClient({ name: 'dep', baseUrl: 'http://127.0.0.1:1', headers: { 'x token': 'a' } })).toThrow(
      new TypeError('lifeline: option `headers` has an invalid header name "x token"'),
    );
  });

  it('through the interceptor (undici.request): an INVALID_HEADER LifelineError, not undici’s InvalidArgumentError', async () => {
    const { url } = await okServer();
    agent = new Agent();
    const dispatcher = agent.compose(createInterceptor({ name: 'dep' }));
    const error: unknown = await request(`${url}/x`, { dispatcher, headers: { 'x-note': 'a\r\nb' } }).catch((e: unknown) => e);
    expect(isLifelineError(error, 'INVALID_HEADER')).toBe(true);
    expect((error as Error).message).toMatch(/^dep: header `x-note` has a CR, LF or NUL in its value/);
    const flat: unknown = await request(`${url}/x`, { dispatcher, method: 'POST', headers: ['x-a', 'ok', 'x-b', 'a\nb'], body: 'b' }).catch(
      (e: unknown) => e,
    );
    expect((flat as Error).message).toMatch(/header `x-b`/);
    expect(server!.seen).toHaveLength(0);
  });

  it('fetch() refuses such a value itself, before the interceptor sees the request', async () => {
    const { url } = await okServer();
    agent = new Agent();
    const dispatcher = agent.compose(createInterceptor({ name: 'dep' }));
    await expect(fetch(`${url}/x`, { dispatcher, headers: { 'x-note': 'a\nb' } })).rejects.toThrow(TypeError);
    expect(server!.seen).toHaveLength(0);
  });
});

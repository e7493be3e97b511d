import { Agent, fetch, Headers, request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { createClient, createInterceptor, type LifelineClient } from '../src/index.ts';
import { quickBackoff, startServer, type TestServer } from './servers.ts';

let server: TestServer | undefined;
let client: LifelineClient | undefined;
let agent: Agent | undefined;
afterEach(async () => {
  await client?.destroy();
  await agent?.close();
  await server?.close();
  client = server = agent = undefined;
});

describe('attempt and remaining-deadline headers', () => {
  it('every attempt says which it is and how long it has left, once, whatever the caller sent', async () => {
    server = await startServer((_req, res, n) => {
      res.statusCode = n < 3 ? 503 : 200;
      res.end();
    });
    client = createClient({ name: 'dep', baseUrl: server.url, timeout: 5_000, attemptTimeout: 1_500, retry: { backoff: quickBackoff } });
    const res = await client.get('/x', { headers: { 'X-Request-Attempt': '9', 'x-request-timeout-ms': '99999' } });
    await res.body.dump();
    expect(server.seen.map((s) => s.headers['x-request-attempt'])).toEqual(['1', '2', '3']);
    for (const { headers } of server.seen) {
      const left = Number(headers['x-request-timeout-ms']);
      // The attempt's own limit (1.5 s) bounds what the next hop is told, never the caller's value.
      expect(left).toBeGreaterThan(1_000);
      expect(left).toBeLessThanOrEqual(1_500);
    }
  });

  it('the remaining time shrinks with the deadline', async () => {
    server = await startServer((_req, res, n) => {
      if (n === 1) setTimeout(() => res.writeHead(503).end(), 400);
      else res.writeHead(200).end();
    });
    client = createClient({ name: 'dep', baseUrl: server.url, timeout: 1_000, attemptTimeout: 5_000, retry: { backoff: quickBackoff } });
    await (await client.get('/')).body.dump();
    const [first, second] = server.seen.map((s) => Number(s.headers['x-request-timeout-ms']));
    expect(first).toBeLessThanOrEqual(1_000);
    expect(second).toBeLessThanOrEqual(first! - 350);
  });

  it('through fetch() and undici.request() with headers as a record, an array and a Headers object', async () => {
    server = await startServer((_req, res) => res.end('ok'));
    agent = new Agent();
    const dispatcher = agent.compose(createInterceptor({ timeout: 2_000, attemptTimeout: 2_000 }));
    await (await fetch(server.url, { dispatcher, headers: new Headers({ 'x-request-attempt': '7' }) })).text();
    await (await request(server.url, { dispatcher, headers: ['X-Request-Attempt', '7', 'accept', 'text/plain'] })).body.text();
    await (await request(server.url, { dispatcher, headers: { 'x-request-attempt': '7' } })).body.text();
    for (const { headers } of server.seen) {
      expect(headers['x-request-attempt']).toBe('1');
      expect(Number(headers['x-request-timeout-ms'])).toBeGreaterThan(1_000);
    }
    expect(server.seen[1]!.headers.accept).toBe('text/plain');
  });

  it("each attempt's headers are made from the call's: the caller's options and headers are left as they were", async () => {
    server = await startServer((_req, res, n) => res.writeHead(n < 3 ? 503 : 200).end());
    agent = new Agent();
    const dispatcher = agent.compose(createInterceptor({ timeout: 5_000, attemptTimeout: 2_000, retry: { backoff: quickBackoff } }));
    const headers = Object.freeze({ 'x-request-attempt': '7', 'x-request-id': 'call-1', accept: 'text/plain' });
    const options = Object.freeze({ origin: server.url, path: '/r', method: 'GET' as const, headers });
    const res = await dispatcher.request(options);
    await res.body.text();
    expect(res.statusCode).toBe(200);
    expect(server.seen.map((s) => s.headers['x-request-attempt'])).toEqual(['1', '2', '3']);
    expect(server.seen.map((s) => s.headers['x-request-id'])).toEqual(['call-1', 'call-1', 'call-1']);
    expect(server.seen.map((s) => s.headers.accept)).toEqual(['text/plain', 'text/plain', 'text/plain']);
    expect(options.headers).toBe(headers);
    expect(headers).toEqual({ 'x-request-attempt': '7', 'x-request-id': 'call-1', accept: 'text/plain' });
  });

  it("the client's default headers are not changed by its calls' attempts", async () => {
    server = await startServer((_req, res, n) => res.writeHead(n === 1 ? 503 : 200).end());
    client = createClient({ name: 'dep', baseUrl: server.url, headers: { 'x-team': 'a' }, retry: { backoff: quickBackoff } });
    await (await client.get('/')).body.dump();
    await (await client.get('/', { headers: { 'x-request-id': 'mine' } })).body.dump();
    expect(server.seen.map((s) => s.headers['x-request-attempt'])).toEqual(['1', '2', '1']);
    expect(server.seen.map((s) => s.headers['x-team'])).toEqual(['a', 'a', 'a']);
    const ids = server.seen.map((s) => s.headers['x-request-id']);
    expect(ids[0]).toBe(ids[1]);
    expect(ids[2]).toBe('mine');
  });
});

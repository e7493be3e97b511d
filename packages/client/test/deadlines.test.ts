import { Deadline, isLifelineError } from '@lifeline/core';
import { Pool } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { createClient, type LifelineClient } from '../src/index.ts';
import { catchError, quickBackoff, startServer, type TestServer } from './servers.ts';

// Deadlines fire on a 10 ms coarse timer; the scheduler on a loaded 2-core machine adds
// more. The margin bounds "did not wait far past the deadline", not precision.
const MARGIN = 300;

let server: TestServer | undefined;
let client: LifelineClient | undefined;
afterEach(async () => {
  await client?.destroy();
  await server?.close();
  client = server = undefined;
});

describe('deadlines against servers that hang or trickle', () => {
  it('a hanging server: each attempt times out, retries stop when they cannot fit, the deadline holds', async () => {
    server = await startServer(() => { /* never answers */ });
    client = createClient({ name: 'dep', baseUrl: server.url, timeout: 500, attemptTimeout: 150, retry: { backoff: quickBackoff } });
    const started = performance.now();
    const error = await catchError(client.get('/hang'));
    const elapsed = performance.now() - started;
    expect(isLifelineError(error, 'ATTEMPT_TIMEOUT') || isLifelineError(error, 'DEADLINE_EXCEEDED')).toBe(true);
    expect((error as { attempts: number }).attempts).toBe(3);
    expect(elapsed).toBeGreaterThanOrEqual(3 * 150 - 10);
    expect(elapsed).toBeLessThan(500 + MARGIN);
    expect(server.seen).toHaveLength(3);
  });

  it('the attempt timeout never reaches past the remaining deadline', async () => {
    server = await startServer(() => {});
    client = createClient({ name: 'dep', baseUrl: server.url, timeout: 200, attemptTimeout: 5_000 });
    const started = performance.now();
    const error = await catchError(client.get('/hang'));
    expect(error).toMatchObject({ code: 'DEADLINE_EXCEEDED', attempts: 1, retryable: false, service: 'dep' });
    expect(performance.now() - started).toBeLessThan(200 + MARGIN);
    // An expected outcome raised from the timer's tick: no stack captured (it would name only the timer).
    expect((error as Error).stack?.split('\n')).toHaveLength(1);
  });

  it('an outer deadline (an inbound request\'s) shortens the call', async () => {
    server = await startServer(() => {});
    client = createClient({ name: 'dep', baseUrl: server.url, timeout: 10_000 });
    const started = performance.now();
    await expect(client.get('/hang', { deadline: Deadline.after(150) })).rejects.toMatchObject({ code: 'DEADLINE_EXCEEDED' });
    expect(performance.now() - started).toBeLessThan(150 + MARGIN);
  });

  it('a slow body is cut at the total deadline', async () => {
    server = await startServer((_req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      const drip = setInterval(() => res.write('x'), 50);
      res.on('close', () => clearInterval(drip));
    });
    client = createClient({ name: 'dep', baseUrl: server.url, timeout: 400 });
    const started = performance.now();
    const res = await client.get('/slow');
    expect(res.status).toBe(200);
    const error = await catchError(res.body.text());
    expect(error).toMatchObject({ code: 'DEADLINE_EXCEEDED' });
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(390);
    expect(elapsed).toBeLessThan(400 + MARGIN);
  });

  it('a server that closes after the headers: the body read fails with SOCKET', async () => {
    server = await startServer((req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('only ten b');
      setTimeout(() => req.socket.destroy(), 20);
    });
    client = createClient({ name: 'dep', baseUrl: server.url });
    const res = await client.get('/cut');
    await expect(res.body.text()).rejects.toMatchObject({ code: 'SOCKET' });
  });

  it('a server that closes after the headers of a 503: the held response is dropped and the call retried', async () => {
    server = await startServer((req, res, n) => {
      if (n === 1) {
        res.writeHead(503, { 'content-length': '100' });
        res.write('partial');
        setTimeout(() => req.socket.destroy(), 20);
      } else res.writeHead(200).end('ok');
    });
    client = createClient({ name: 'dep', baseUrl: server.url, retry: { backoff: { next: () => 60 } } });
    const res = await client.get('/x');
    expect(await res.body.text()).toBe('ok');
    expect(res.attempts).toBe(2);
  });

  it("the caller's signal aborts at once with ABORTED", async () => {
    server = await startServer(() => {});
    client = createClient({ name: 'dep', baseUrl: server.url });
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('user left')), 50);
    const started = performance.now();
    const error = await catchError(client.get('/hang', { signal: controller.signal }));
    expect(error).toMatchObject({ code: 'ABORTED', retryable: false });
    expect((error as Error).cause).toMatchObject({ message: 'user left' });
    expect(performance.now() - started).toBeLessThan(50 + MARGIN);
    await expect(client.get('/x', { signal: controller.signal })).rejects.toMatchObject({ code: 'ABORTED' });
  });

  it('an abort during a retry backoff ends the call without another attempt', async () => {
    server = await startServer((_req, res) => res.writeHead(503).end());
    client = createClient({ name: 'dep', baseUrl: server.url, retry: { backoff: { next: () => 5_000 } } });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const started = performance.now();
    await expect(client.get('/', { signal: controller.signal })).rejects.toMatchObject({ code: 'ABORTED' });
    expect(performance.now() - started).toBeLessThan(100 + MARGIN);
    expect(server.seen).toHaveLength(1);
  });

  it('success aborts nothing: sequential calls keep their connections, as raw undici does', async () => {
    server = await startServer((_req, res) => res.writeHead(200).end('ok'));
    const pool = new Pool(server.url);
    for (let i = 0; i < 10; i++) await (await pool.request({ method: 'GET', path: '/' })).body.text();
    await pool.close();
    const raw = server.connections();
    client = createClient({ name: 'dep', baseUrl: server.url, timeout: 1_000, attemptTimeout: 500 });
    for (let i = 0; i < 10; i++) expect(await (await client.get('/')).body.text()).toBe('ok');
    // An abort on success would close the socket and force a new connection per call.
    expect(server.connections() - raw).toBeLessThanOrEqual(raw);
    expect(server.connections() - raw).toBeLessThan(10);
  });
});

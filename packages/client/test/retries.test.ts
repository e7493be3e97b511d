import { Readable } from 'node:stream';
import { isLifelineError, type HttpStatusError } from '@lifeline/core';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createClient, type LifelineClient } from '../src/index.ts';
import { catchError, closedPort, quickBackoff, startServer, type TestServer } from './servers.ts';

let server: TestServer | undefined;
let client: LifelineClient | undefined;
afterEach(async () => {
  await client?.destroy();
  await server?.close();
  client = server = undefined;
});

function clientFor(url: string, extra: Parameters<typeof createClient>[0] extends infer O ? Partial<O> : never = {}): LifelineClient {
  client = createClient({ name: 'dep', baseUrl: url, retry: { backoff: quickBackoff }, ...extra });
  return client;
}

describe('retries against a misbehaving server', () => {
  it('honours 503 + Retry-After, then succeeds', async () => {
    server = await startServer((_req, res, n) => {
      if (n === 1) res.writeHead(503, { 'retry-after': '1' }).end('later');
      else res.writeHead(200).end('ok');
    });
    const started = performance.now();
    const res = await clientFor(server.url).get('/a');
    expect(await res.body.text()).toBe('ok');
    expect(res.attempts).toBe(2);
    expect(server.seen).toHaveLength(2);
    // The server asked for one second; it was honoured (and jittered up to +20 %, not down).
    expect(performance.now() - started).toBeGreaterThanOrEqual(990);
  });

  it('gives up after maxAttempts with HTTP_STATUS carrying status, body and attempts', async () => {
    server = await startServer((_req, res) => res.writeHead(503).end('overloaded'));
    const error = (await catchError(clientFor(server.url).get('/a'))) as HttpStatusError;
    expect(isLifelineError(error, 'HTTP_STATUS')).toBe(true);
    expect(error).toMatchObject({ status: 503, body: 'overloaded', attempts: 3, retryable: true, service: 'dep' });
    expect(server.seen).toHaveLength(3);
  });

  it('never retries a POST without an Idempotency-Key', async () => {
    server = await startServer((_req, res) => res.writeHead(503).end());
    const error = await catchError(clientFor(server.url).post('/charges', { json: { amount: 1 } }));
    expect(error).toMatchObject({ code: 'HTTP_STATUS', status: 503, attempts: 1, retryable: false });
    expect(server.seen).toHaveLength(1);
  });

  it('retries a keyed POST with the same quoted Idempotency-Key and body on every attempt', async () => {
    server = await startServer((_req, res, n) => (n < 3 ? res.writeHead(502).end() : res.writeHead(201).end('{"id":1}')));
    const res = await clientFor(server.url).post('/charges', { json: { amount: 42 }, idempotent: true });
    expect(await res.body.json()).toEqual({ id: 1 });
    const keys = server.seen.map((s) => s.headers['idempotency-key']);
    expect(keys).toHaveLength(3);
    expect(new Set(keys).size).toBe(1);
    expect(keys[0]).toMatch(/^"[0-9a-f-]{36}"$/);
    expect(server.seen.map((s) => s.body)).toEqual(Array(3).fill('{"amount":42}'));
    expect(server.seen[0]!.headers['content-type']).toBe('application/json');
  });

  it('uses a caller-supplied key, quoting it', async () => {
    server = await startServer((_req, res) => res.writeHead(200).end());
    const c = clientFor(server.url);
    await c.post('/charges', { idempotencyKey: 'order-17' });
    await c.post('/charges', { idempotencyKey: String.raw`say "hi" \ bye` });
    await c.post('/charges', { idempotencyKey: '"already-quoted"' });
    // RFC 9651 sf-strings: `"` and `\` escaped, an already quoted key sent as it is.
    expect(server.seen.map((s) => s.headers['idempotency-key'])).toEqual(['"order-17"', String.raw`"say \"hi\" \\ bye"`, '"already-quoted"']);
  });

  it('retries 500 for idempotent calls only', async () => {
    server = await startServer((_req, res) => res.writeHead(500).end());
    const c = clientFor(server.url);
    await expect(c.get('/x')).rejects.toMatchObject({ status: 500, attempts: 3 });
    await expect(c.post('/x')).rejects.toMatchObject({ status: 500, attempts: 1 });
    expect(server.seen).toHaveLength(4);
  });

  it('does not retry 4xx; throwOnHttpError: false returns the response', async () => {
    server = await startServer((_req, res) => res.writeHead(404).end('no such user'));
    const c = clientFor(server.url);
    await expect(c.get('/users/9')).rejects.toMatchObject({ status: 404, body: 'no such user', retryable: false });
    const res = await c.get('/users/9', { throwOnHttpError: false });
    expect(res.status).toBe(404);
    expect(await res.body.text()).toBe('no such user');
    expect(server.seen).toHaveLength(2);
  });

  it('retries a GET whose connection was reset', async () => {
    server = await startServer((req, res, n) => (n === 1 ? req.socket.destroy() : res.writeHead(200).end('ok')));
    const res = await clientFor(server.url).get('/r');
    expect(await res.body.text()).toBe('ok');
    expect(res.attempts).toBe(2);
  });

  it('does not retry a POST whose connection was reset after sending (it may have been processed)', async () => {
    server = await startServer((req) => req.socket.destroy());
    const error = await catchError(clientFor(server.url).post('/charges', { json: {} }));
    expect(error).toMatchObject({ code: 'SOCKET', retryable: false, attempts: 1 });
    expect(server.seen).toHaveLength(1);
  });

  it('retries a connect failure even for a POST: nothing was sent', async () => {
    const port = await closedPort();
    const error = await catchError(clientFor(`http://127.0.0.1:${port}`).post('/charges', { json: {} }));
    expect(error).toMatchObject({ code: 'CONNECT', retryable: true, attempts: 3 });
  });

  it('never replays a one-shot stream body', async () => {
    server = await startServer((req) => req.socket.destroy());
    const body = Readable.from([Buffer.from('part1'), Buffer.from('part2')]);
    const error = await catchError(clientFor(server.url).put('/upload', { body }));
    expect(error).toMatchObject({ code: 'SOCKET', retryable: false, attempts: 1 });
    expect(server.seen).toHaveLength(1);
  });

  it('stops at RETRY_BUDGET_EXHAUSTED instead of retrying past the budget', async () => {
    server = await startServer((req) => req.socket.destroy());
    // ratio 0 and 0.1 retries/s over 10 s: exactly one retry in the window.
    const c = clientFor(server.url, { retry: { backoff: quickBackoff, budget: { ratio: 0, minRetriesPerSecond: 0.1 } } });
    await expect(c.get('/a')).rejects.toMatchObject({ code: 'RETRY_BUDGET_EXHAUSTED' }); // 2 attempts: 1 retry, then none left
    expect(server.seen).toHaveLength(2);
    const error = await catchError(c.get('/b'));
    expect(error).toMatchObject({ code: 'RETRY_BUDGET_EXHAUSTED', retryable: false, attempts: 1 });
    expect(isLifelineError((error as Error).cause, 'SOCKET')).toBe(true);
    expect(server.seen).toHaveLength(3);
    expect(c.retry.budget!.snapshot()).toMatchObject({ requests: 2, retries: 1, exhausted: true });
  });

  it('logs budget exhaustion once, not per request', async () => {
    server = await startServer((req) => req.socket.destroy());
    const lines: { level: number; msg: string; service: string; budget: { exhausted: boolean } }[] = [];
    const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line) as (typeof lines)[number]) });
    const c = clientFor(server.url, { logger, retry: { backoff: quickBackoff, budget: { ratio: 0, minRetriesPerSecond: 0.1 } } });
    for (let i = 0; i < 4; i++) await c.get('/').catch(() => undefined);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 40, msg: 'retry budget exhausted: retries refused', service: 'dep', budget: { exhausted: true } });
  });

  it('reports each retry through onRetry', async () => {
    server = await startServer((_req, res, n) => (n < 3 ? res.writeHead(503).end() : res.writeHead(200).end()));
    const c = clientFor(server.url);
    const attempts: number[] = [];
    c.onRetry((e) => attempts.push(e.attempt));
    await c.get('/');
    expect(attempts).toEqual([1, 2]);
  });
});

import { fetch, FormData, type BodyInit, type Dispatcher } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { createDispatcher } from '../src/index.ts';
import { quickBackoff, startServer, type TestServer } from './servers.ts';

// fetch() hands every request body to its dispatcher as an async generator, whatever it
// was made from. A body fetch knows the length of (a string, bytes, URLSearchParams, a Blob,
// a FormData) is read once and sent again on a retry, under the client's rules: an
// idempotent method, or an Idempotency-Key. A stream is never retried.

let server: TestServer | undefined;
let dispatcher: Dispatcher | undefined;
afterEach(async () => {
  await dispatcher?.destroy();
  await server?.close();
  server = dispatcher = undefined;
});

/** 503 to the first request, then 200 echoing the body it received. */
async function unavailableOnce(): Promise<TestServer> {
  server = await startServer((req, res, n) => {
    if (n === 1) res.writeHead(503).end('busy');
    else res.writeHead(200).end(server!.seen[n - 1]!.body);
  });
  dispatcher = createDispatcher({ retry: { backoff: quickBackoff } });
  return server;
}

describe('fetch() bodies and retries', () => {
  it("PUT 'x' against 503-then-200: 200 after 2 requests, the same body on both", async () => {
    const s = await unavailableOnce();
    const res = await fetch(`${s.url}/items/1`, { dispatcher, method: 'PUT', body: 'x' });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('x');
    expect(s.seen.map((r) => r.body)).toEqual(['x', 'x']);
    expect(s.seen[1]!.headers['x-request-attempt']).toBe('2');
  });

  it('a POST with an Idempotency-Key is retried with the same key and body', async () => {
    const s = await unavailableOnce();
    const res = await fetch(`${s.url}/charges`, {
      dispatcher,
      method: 'POST',
      body: JSON.stringify({ amount: 42 }),
      headers: { 'content-type': 'application/json', 'idempotency-key': '"order-17"' },
    });
    expect(res.status).toBe(200);
    expect(s.seen).toHaveLength(2);
    expect(s.seen.map((r) => [r.body, r.headers['idempotency-key']])).toEqual([
      ['{"amount":42}', '"order-17"'],
      ['{"amount":42}', '"order-17"'],
    ]);
  });

  it('the headers are read in any case: an Idempotency-Key and an X-Request-Id as the caller wrote them', async () => {
    const s = await unavailableOnce();
    const headers = { 'Content-Type': 'application/json', 'Idempotency-Key': '"order-18"', 'X-Request-Id': 'req-from-caller' };
    const res = await fetch(`${s.url}/charges`, { dispatcher, method: 'POST', body: '{"amount":7}', headers });
    expect(res.status).toBe(200);
    expect(s.seen.map((r) => [r.body, r.headers['idempotency-key'], r.headers['x-request-id'], r.headers['content-length']])).toEqual([
      ['{"amount":7}', '"order-18"', 'req-from-caller', '12'],
      ['{"amount":7}', '"order-18"', 'req-from-caller', '12'],
    ]);
    expect(headers).toEqual({ 'Content-Type': 'application/json', 'Idempotency-Key': '"order-18"', 'X-Request-Id': 'req-from-caller' });
  });

  it('undici.request() with headers as a flat array: the key found in any case, the frozen options left as they were', async () => {
    const s = await unavailableOnce();
    const headers = ['IDEMPOTENCY-KEY', '"order-19"', 'x-Request-ID', 'req-array'];
    Object.freeze(headers);
    const options = Object.freeze({ origin: s.url, path: '/charges', method: 'POST' as const, body: 'pay', headers });
    const res = await dispatcher!.request(options);
    expect(res.statusCode).toBe(200);
    expect(await res.body.text()).toBe('pay');
    expect(s.seen.map((r) => [r.body, r.headers['idempotency-key'], r.headers['x-request-id']])).toEqual([
      ['pay', '"order-19"', 'req-array'],
      ['pay', '"order-19"', 'req-array'],
    ]);
    expect(options.headers).toBe(headers);
    expect(headers).toEqual(['IDEMPOTENCY-KEY', '"order-19"', 'x-Request-ID', 'req-array']);
  });

  it('a POST without a key is not retried: the 503 is the answer', async () => {
    const s = await unavailableOnce();
    const res = await fetch(`${s.url}/charges`, { dispatcher, method: 'POST', body: 'x' });
    expect(res.status).toBe(503);
    expect(s.seen).toHaveLength(1);
  });

  it.each<[string, () => BodyInit]>([
    ['bytes', () => new Uint8Array([104, 105])],
    ['URLSearchParams', () => new URLSearchParams({ a: '1', b: 'two' })],
    ['a Blob', () => new Blob(['blob', '-', 'parts'])],
    ['a FormData', () => {
      const form = new FormData();
      form.append('field', 'value');
      return form;
    }],
  ])('%s: retried, the body sent again byte for byte', async (_name, body) => {
    const s = await unavailableOnce();
    const res = await fetch(`${s.url}/upload`, { dispatcher, method: 'PUT', body: body() });
    expect(res.status).toBe(200);
    expect(s.seen).toHaveLength(2);
    expect(s.seen[1]!.body).toBe(s.seen[0]!.body);
    expect(s.seen[1]!.body.length).toBeGreaterThan(0);
    expect(await res.text()).toBe(s.seen[0]!.body);
  });

  it('a ReadableStream body is never retried: the 503 is the answer', async () => {
    const s = await unavailableOnce();
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('streamed'));
        controller.close();
      },
    });
    const res = await fetch(`${s.url}/items/1`, { dispatcher, method: 'PUT', body: stream, duplex: 'half' });
    expect(res.status).toBe(503);
    expect(await res.text()).toBe('busy');
    expect(s.seen).toHaveLength(1);
    expect(s.seen[0]!.body).toBe('streamed');
  });

  it('a reset while a PUT is sent: retried with its body', async () => {
    server = await startServer((req, res, n) => (n === 1 ? req.socket.destroy() : res.writeHead(200).end(server!.seen[n - 1]!.body)));
    dispatcher = createDispatcher({ retry: { backoff: quickBackoff } });
    const res = await fetch(`${server.url}/items/1`, { dispatcher, method: 'PUT', body: 'again' });
    expect(await res.text()).toBe('again');
    expect(server.seen).toHaveLength(2);
  });
});

import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { errors } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { chaosHandler, createChaos, type Chaos, type ChaosOptions } from '../src/index.ts';
import { closeServer, failure, rawExchange, send, startServer, waitFor } from './helpers.ts';

let server: Server | undefined;
afterEach(async () => {
  if (server !== undefined) await closeServer(server);
  server = undefined;
});

interface Setup {
  chaos: Chaos;
  url: string;
  /** Requests the application's listener received. */
  handled: () => number;
  /** What a hook wrapping res.end saw, per request (like an idempotency store capturing the response). */
  ended: { status: number; body: string }[];
  closes: Promise<void>[];
}

async function start(options: ChaosOptions, listener?: (req: IncomingMessage, res: ServerResponse) => void): Promise<Setup> {
  const chaos = createChaos(options);
  let handled = 0;
  const ended: { status: number; body: string }[] = [];
  const app =
    listener ??
    ((req: IncomingMessage, res: ServerResponse) => {
      handled++;
      const end = res.end.bind(res) as (chunk?: unknown) => ServerResponse;
      Reflect.set(res, 'end', (chunk?: unknown) => {
        ended.push({ status: res.statusCode, body: typeof chunk === 'string' ? chunk : '' });
        return end(chunk);
      });
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ path: req.url, charged: true }));
    });
  const started = await startServer(chaosHandler(chaos, app));
  server = started.server;
  return { chaos, url: started.url, handled: () => handled, ended, closes: started.closes };
}

describe('chaosHandler faults', () => {
  it('passes requests through untouched when no rule fires, and strips the query before matching', async () => {
    const { url, handled, chaos } = await start({ enabled: true, rules: [{ path: '/charges', percent: 100, fault: { type: 'error', status: 500 } }] });
    const ok = await send(`${url}/other?x=1`);
    expect(ok).toMatchObject({ status: 200, body: '{"path":"/other?x=1","charged":true}' });
    expect((await send(`${url}/charges?x=1`)).status).toBe(500);
    expect(handled()).toBe(1);
    expect(chaos.snapshot()).toMatchObject({ requests: 2, injected: { r1: 1 } });
  });

  it('latency: the handler runs after the delay', async () => {
    const { url, handled } = await start({ enabled: true, rules: [{ path: '/slow', percent: 100, fault: { type: 'latency', ms: 200 } }] });
    const started = performance.now();
    const reply = await send(`${url}/slow`);
    const elapsed = performance.now() - started;
    expect(reply.status).toBe(200);
    expect(handled()).toBe(1);
    expect(elapsed).toBeGreaterThanOrEqual(180);
  });

  it('error: answers the status with a CHAOS problem and Retry-After; the handler never runs', async () => {
    const { url, handled } = await start({
      enabled: true,
      rules: [{ id: 'boom', method: 'POST', path: '/charges', percent: 100, fault: { type: 'error', status: 503, retryAfterMs: 1_500 } }],
    });
    const reply = await send(`${url}/charges`, { method: 'POST', body: '{"amount":5}' });
    expect(reply.status).toBe(503);
    expect(reply.headers['content-type']).toBe('application/problem+json');
    expect(reply.headers['retry-after']).toBe('2');
    expect(JSON.parse(reply.body)).toEqual({
      type: 'urn:lifeline:problem:chaos',
      title: 'Service Unavailable',
      status: 503,
      detail: 'injected by chaos rule boom',
      code: 'CHAOS',
    });
    expect(handled()).toBe(0);
  });

  it('reset: the client sees a socket error; the handler never runs', async () => {
    const { url, handled } = await start({ enabled: true, rules: [{ path: '*', percent: 100, fault: { type: 'reset' } }] });
    const error = await failure(send(`${url}/x`));
    expect(error).toBeInstanceOf(errors.SocketError);
    expect(error.code).toBe('UND_ERR_SOCKET');
    expect(handled()).toBe(0);
  });

  it('hang: never answers, and destroys the connection after hangMs', async () => {
    const { url, handled } = await start({ enabled: true, hangMs: 100, rules: [{ path: '*', percent: 100, fault: { type: 'hang' } }] });
    const error = await failure(send(`${url}/x`));
    expect(error).toBeInstanceOf(errors.SocketError);
    expect(handled()).toBe(0);
  });

  it('hang: the connection closes when the client gives up first', async () => {
    const { url, handled, closes } = await start({ enabled: true, rules: [{ path: '*', percent: 100, fault: { type: 'hang' } }] });
    const controller = new AbortController();
    const pending = failure(send(`${url}/x`, { signal: controller.signal }));
    await waitFor(() => closes.length === 1, 5_000, 'the connection');
    controller.abort(new Error('gave up'));
    expect((await pending).message).toBe('gave up');
    await closes[0];
    expect(handled()).toBe(0);
  });

  it('lose-response: the handler runs and ends its response, but not a byte reaches the client', async () => {
    const { url, handled, ended } = await start({
      enabled: true,
      rules: [{ method: 'POST', path: '/charges', percent: 100, fault: { type: 'lose-response' } }],
    });
    const error = await failure(send(`${url}/charges`, { method: 'POST', body: '{"amount":5}' }));
    expect(error).toBeInstanceOf(errors.SocketError);
    expect(error.message).toBe('other side closed');
    expect(handled()).toBe(1);
    expect(ended).toEqual([{ status: 200, body: '{"path":"/charges","charged":true}' }]);
    // On a raw connection: nothing at all comes back, not even a status line.
    const received = await rawExchange(url, 'POST /charges HTTP/1.1\r\nhost: x', '{}');
    expect(received).toBe('');
    expect(handled()).toBe(2);
  });

  it('lose-response: a streamed response (flushed headers, writes) is lost too', async () => {
    let finished = false;
    const { url } = await start({ enabled: true, rules: [{ path: '*', percent: 100, fault: { type: 'lose-response' } }] }, (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.flushHeaders();
      res.write('one ');
      setImmediate(() => {
        res.end('two');
        res.once('finish', () => (finished = true));
      });
    });
    expect(await rawExchange(url, 'GET /stream HTTP/1.1\r\nhost: x')).toBe('');
    expect(finished).toBe(true);
  });

  it('lose-response: a response queued behind a pipelined one is lost; the one before it arrives whole', async () => {
    const { url } = await start({ enabled: true, rules: [{ path: '/lose', percent: 100, fault: { type: 'lose-response' } }] }, (req, res) => {
      if (req.url === '/lose') res.end('second');
      else setImmediate(() => res.end('first'));
    });
    const received = await rawExchange(url, 'GET /ok HTTP/1.1\r\nhost: x\r\n\r\nGET /lose HTTP/1.1\r\nhost: x');
    expect(received).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nfirst$/);
  });

  it('applies no fault and answers 404 on the admin path while disabled', async () => {
    const { url, handled, chaos } = await start({ rules: [{ path: '*', percent: 100, fault: { type: 'reset' } }] });
    expect((await send(`${url}/x`)).status).toBe(200);
    for (const method of ['GET', 'PUT', 'POST', 'DELETE'] as const) {
      const reply = await send(`${url}/admin/chaos`, { method, body: method === 'GET' ? undefined : '{"enabled":true,"rules":[]}' });
      expect(reply.status).toBe(404);
    }
    expect((await send(`${url}/admin/chaos/r1`, { method: 'DELETE' })).status).toBe(404);
    expect(chaos.enabled).toBe(false);
    expect(chaos.rules()).toHaveLength(1);
    expect(handled()).toBe(1);
  });
});

describe('chaosHandler admin endpoint', () => {
  const everything = { id: 'all', path: '*', percent: 100, fault: { type: 'reset' } } as const;

  it('is never faulted itself', async () => {
    const { url } = await start({ enabled: true, rules: [everything] });
    const reply = await send(`${url}/admin/chaos`);
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body)).toEqual({
      enabled: true,
      seed: 1,
      rules: [{ id: 'all', method: '*', path: '*', percent: 100, fault: { type: 'reset' } }],
      injected: { all: 0 },
      requests: 0,
    });
  });

  it('PUT replaces the rules, POST appends one, DELETE removes one or all', async () => {
    const { url, chaos } = await start({ enabled: true, seed: 5, adminPath: '/_chaos' });
    const put = await send(`${url}/_chaos`, {
      method: 'PUT',
      body: JSON.stringify({ rules: [{ method: 'POST', path: '/charges', percent: 50, fault: { type: 'lose-response' } }] }),
    });
    expect(put.status).toBe(200);
    expect(JSON.parse(put.body)).toMatchObject({ enabled: true, seed: 5, rules: [{ id: 'r1', path: '/charges' }] });

    const post = await send(`${url}/_chaos`, { method: 'POST', body: JSON.stringify({ path: '/users/:id', percent: 10, fault: { type: 'error', status: 500 } }) });
    expect(post.status).toBe(201);
    expect(post.headers.location).toBe('/_chaos/r2');
    expect(JSON.parse(post.body)).toEqual({ id: 'r2', method: '*', path: '/users/:id', percent: 10, fault: { type: 'error', status: 500 } });
    expect(chaos.rules().map((r) => r.id)).toEqual(['r1', 'r2']);

    const removed = await send(`${url}/_chaos/r1`, { method: 'DELETE' });
    expect(removed.status).toBe(200);
    expect((JSON.parse(removed.body) as { rules: { id: string }[] }).rules.map((r) => r.id)).toEqual(['r2']);
    const unknown = await send(`${url}/_chaos/r1`, { method: 'DELETE' });
    expect(unknown.status).toBe(404);
    expect(JSON.parse(unknown.body)).toMatchObject({ code: 'CHAOS_RULE_NOT_FOUND', detail: "no chaos rule has id 'r1'" });

    expect((await send(`${url}/_chaos`, { method: 'DELETE' })).status).toBe(200);
    expect(chaos.rules()).toEqual([]);
    expect((await send(`${url}/_chaos`, { method: 'PATCH', body: '{}' })).status).toBe(405);
    expect((await send(`${url}/_chaosx`)).status).toBe(200); // not the admin path: the application's
  });

  it.each([
    ['bad JSON', 'PUT', '{"rules": [', /^body: is not valid JSON \(/],
    ['an empty body', 'POST', '', /^body: must be JSON, got an empty body$/],
    ['a body that is not an object', 'PUT', '[]', /^body: must be an object such as \{ "rules": \[\.\.\.\] \}, got an array$/],
    ['an unknown key', 'PUT', '{"rulez": []}', /^body: unknown option `rulez` \(did you mean `rules`\?\)/],
    ['a bad percent', 'PUT', '{"rules":[{"path":"/a","percent":150,"fault":{"type":"reset"}}]}', /^rules\[0\]\.percent: must be a number from 0 to 100, got 150$/],
    ['a bad fault type', 'POST', '{"path":"/a","percent":1,"fault":{"type":"boom"}}', /^rule\.fault\.type: must be one of latency, error, reset, hang, lose-response, got 'boom'$/],
    ['a bad enabled', 'PUT', '{"enabled":"no","rules":[]}', /^enabled: must be true or false, got 'no'$/],
  ])('answers %s with 400 CHAOS_INVALID naming the reason, and keeps the rules', async (_name, method, body, detail) => {
    const { url, chaos } = await start({ enabled: true, rules: [everything] });
    const reply = await send(`${url}/admin/chaos`, { method: method as 'PUT', body });
    expect(reply.status).toBe(400);
    expect(reply.headers['content-type']).toBe('application/problem+json');
    const problem = JSON.parse(reply.body);
    expect(problem).toMatchObject({ type: 'urn:lifeline:problem:chaos-invalid', title: 'Invalid chaos configuration', status: 400, code: 'CHAOS_INVALID' });
    expect(problem.detail).toMatch(detail);
    expect(chaos.rules()).toEqual([{ id: 'all', method: '*', path: '*', percent: 100, fault: { type: 'reset' } }]);
  });

  it('PUT with enabled: false switches chaos off, after which the endpoint is gone', async () => {
    const { url, chaos, handled } = await start({ enabled: true, rules: [everything] });
    const reply = await send(`${url}/admin/chaos`, { method: 'PUT', body: '{"enabled":false,"rules":[]}' });
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body)).toMatchObject({ enabled: false, rules: [] });
    expect(chaos.enabled).toBe(false);
    expect((await send(`${url}/admin/chaos`)).status).toBe(404);
    expect((await send(`${url}/x`)).status).toBe(200);
    expect(handled()).toBe(1);
  });

  it('refuses a body over 1 MiB with 413', async () => {
    const { url, chaos } = await start({ enabled: true, rules: [everything] });
    const reply = await send(`${url}/admin/chaos`, { method: 'PUT', body: JSON.stringify({ rules: [], pad: 'x'.repeat(1_100_000) }) });
    expect(reply.status).toBe(413);
    expect(JSON.parse(reply.body)).toMatchObject({ code: 'CHAOS_INVALID', detail: 'body: larger than 1048576 bytes' });
    expect(chaos.rules()).toHaveLength(1);
  });
});

describe('chaosHandler arguments', () => {
  it('refuses what is not a Chaos or a listener', () => {
    expect(() => chaosHandler({} as Chaos, () => {})).toThrow('lifeline: chaosHandler needs a Chaos (from createChaos()), got object');
    expect(() => chaosHandler(createChaos(), undefined as never)).toThrow('lifeline: chaosHandler needs a request listener, got undefined');
  });
});

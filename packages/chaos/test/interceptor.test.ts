import type { Server } from 'node:http';
import { Readable } from 'node:stream';
import { Agent, errors, fetch, interceptors, request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { chaosInterceptor, createChaos, type Chaos, type ChaosOptions, type ChaosRule } from '../src/index.ts';
import { closeServer, failure, send, startServer } from './helpers.ts';

let server: Server | undefined;
let agent: Agent | undefined;
afterEach(async () => {
  await agent?.close();
  if (server !== undefined) await closeServer(server);
  server = undefined;
  agent = undefined;
});

interface Setup {
  chaos: Chaos;
  url: string;
  dispatcher: ReturnType<Agent['compose']>;
  /** Requests the server received, as `METHOD path`. */
  received: string[];
}

async function start(rules: ChaosRule[], options: ChaosOptions = {}): Promise<Setup> {
  const chaos = createChaos({ enabled: true, rules, ...options });
  const received: string[] = [];
  const started = await startServer((req, res) => {
    received.push(`${req.method} ${req.url}`);
    req.resume();
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ ok: true, n: received.length }));
    });
  });
  server = started.server;
  agent = new Agent();
  return { chaos, url: started.url, dispatcher: agent.compose(chaosInterceptor(chaos)), received };
}

describe('chaosInterceptor', () => {
  it('sends requests untouched when no rule fires, matching on the path without its query', async () => {
    const { url, dispatcher, received, chaos } = await start([{ method: 'POST', path: '/charges', percent: 100, fault: { type: 'reset' } }]);
    expect(await send(`${url}/charges?x=1`, { dispatcher })).toMatchObject({ status: 200, body: '{"ok":true,"n":1}' });
    expect(await failure(send(`${url}/charges?x=1`, { method: 'POST', body: '{}', dispatcher }))).toBeInstanceOf(errors.SocketError);
    expect(received).toEqual(['GET /charges?x=1']);
    expect(chaos.snapshot()).toMatchObject({ requests: 2, injected: { r1: 1 } });
  });

  it('latency: the request is sent after the delay', async () => {
    const { url, dispatcher, received } = await start([{ path: '/slow', percent: 100, fault: { type: 'latency', ms: 150 } }]);
    const started = performance.now();
    const reply = await send(`${url}/slow`, { dispatcher });
    expect(performance.now() - started).toBeGreaterThanOrEqual(130);
    expect(reply.status).toBe(200);
    expect(received).toEqual(['GET /slow']);
  });

  it('latency: an abort ends the wait, and nothing is sent', async () => {
    const { url, dispatcher, received } = await start([{ path: '*', percent: 100, fault: { type: 'latency', ms: 60_000 } }]);
    const controller = new AbortController();
    const pending = failure(send(`${url}/x`, { dispatcher, signal: controller.signal }));
    queueMicrotask(() => controller.abort(new Error('user gave up')));
    const started = performance.now();
    expect((await pending).message).toBe('user gave up');
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(received).toEqual([]);
  });

  it('latency: an already aborted request fails at once', async () => {
    const { url, dispatcher, received } = await start([{ path: '*', percent: 100, fault: { type: 'latency', ms: 60_000 } }]);
    const error = await failure(send(`${url}/x`, { dispatcher, signal: AbortSignal.abort(new Error('too late')) }));
    expect(error.message).toBe('too late');
    expect(received).toEqual([]);
  });

  it('error: a problem response is synthesized, for request() and fetch(); nothing is sent', async () => {
    const { url, dispatcher, received } = await start([
      { id: 'down', path: '/charges', percent: 100, fault: { type: 'error', status: 503, retryAfterMs: 1_000 } },
    ]);
    const reply = await send(`${url}/charges`, { method: 'POST', body: '{"amount":1}', dispatcher });
    expect(reply.status).toBe(503);
    expect(reply.headers['content-type']).toBe('application/problem+json');
    expect(reply.headers['retry-after']).toBe('1');
    expect(JSON.parse(reply.body)).toEqual({
      type: 'urn:lifeline:problem:chaos',
      title: 'Service Unavailable',
      status: 503,
      detail: 'injected by chaos rule down',
      code: 'CHAOS',
    });
    const fetched = await fetch(`${url}/charges`, { dispatcher });
    expect(fetched.status).toBe(503);
    expect(fetched.statusText).toBe('Service Unavailable');
    expect(await fetched.json()).toMatchObject({ code: 'CHAOS' });
    expect(received).toEqual([]);
  });

  it('error: raw headers are there for responseHeaders: raw', async () => {
    const { url, dispatcher } = await start([{ path: '*', percent: 100, fault: { type: 'error', status: 500 } }]);
    const res = await request(`${url}/x`, { dispatcher, responseHeaders: 'raw' });
    expect(res.statusCode).toBe(500);
    const raw = res.headers as unknown as string[];
    expect(raw.slice(0, 2)).toEqual(['content-type', 'application/problem+json']);
    expect(raw).toContain('content-length');
    await res.body.text();
  });

  it('reset: fails with a SocketError (UND_ERR_SOCKET); nothing is sent, a streamed body is destroyed', async () => {
    const { url, dispatcher, received } = await start([{ id: 'cut', path: '*', percent: 100, fault: { type: 'reset' } }]);
    const body = Readable.from(['{"a":', '1}']);
    const error = await failure(request(`${url}/x`, { method: 'POST', body, dispatcher }));
    expect(error).toBeInstanceOf(errors.SocketError);
    expect(error).toMatchObject({ name: 'SocketError', code: 'UND_ERR_SOCKET', message: 'other side closed (injected by chaos rule cut)' });
    expect(body.destroyed).toBe(true);
    expect(received).toEqual([]);
  });

  it('hang: nothing is sent and nothing comes back until the request is aborted', async () => {
    const { url, dispatcher, received, chaos } = await start([{ path: '*', percent: 100, fault: { type: 'hang' } }]);
    const controller = new AbortController();
    let settled = false;
    const pending = failure(send(`${url}/x`, { dispatcher, signal: controller.signal })).finally(() => (settled = true));
    // Other requests go through meanwhile.
    chaos.clear();
    expect((await send(`${url}/y`, { dispatcher })).status).toBe(200);
    expect(settled).toBe(false);
    controller.abort(new Error('stop waiting'));
    expect((await pending).message).toBe('stop waiting');
    expect(received).toEqual(['GET /y']);
  });

  it('lose-response: the server handles the request, the client gets a SocketError instead of its answer', async () => {
    const { url, dispatcher, received } = await start([{ id: 'lost', method: 'POST', path: '/charges', percent: 100, fault: { type: 'lose-response' } }]);
    const error = await failure(send(`${url}/charges`, { method: 'POST', body: '{"amount":9}', dispatcher }));
    expect(error).toBeInstanceOf(errors.SocketError);
    expect(error.message).toBe('other side closed (injected by chaos rule lost)');
    expect(received).toEqual(['POST /charges']);
    // The connection was read to the end and stays usable.
    expect(await send(`${url}/after`, { dispatcher })).toMatchObject({ status: 200, body: '{"ok":true,"n":2}' });
  });

  it('is reproducible: the same seed gives the same failures over the same requests', async () => {
    const { url, dispatcher } = await start([{ path: '*', percent: 50, fault: { type: 'error', status: 500 } }], { seed: 77 });
    const statuses = async (d: typeof dispatcher): Promise<number[]> => {
      const out: number[] = [];
      for (let i = 0; i < 20; i++) out.push((await send(`${url}/r/${i}`, { dispatcher: d })).status);
      return out;
    };
    const first = await statuses(dispatcher);
    const again = agent!.compose(chaosInterceptor(createChaos({ enabled: true, seed: 77, rules: [{ path: '*', percent: 50, fault: { type: 'error', status: 500 } }] })));
    expect(await statuses(again)).toEqual(first);
    expect(new Set(first)).toEqual(new Set([200, 500]));
  });

  it('composed inside undici’s retry interceptor, every attempt rolls again and the retries ride out the resets', async () => {
    const { url, chaos, received } = await start([{ path: '*', percent: 50, fault: { type: 'reset' } }], { seed: 5 });
    const dispatcher = agent!.compose(chaosInterceptor(chaos), interceptors.retry({ maxRetries: 20, minTimeout: 1, maxTimeout: 1, timeoutFactor: 1 }));
    for (let i = 0; i < 10; i++) expect((await send(`${url}/r/${i}`, { dispatcher })).status).toBe(200);
    expect(received).toHaveLength(10);
    expect(chaos.snapshot().injected.r1).toBeGreaterThan(0);
    expect(chaos.snapshot().requests).toBe(10 + chaos.snapshot().injected.r1!);
  });

  it('refuses what is not a Chaos', () => {
    expect(() => chaosInterceptor({} as Chaos)).toThrow('lifeline: chaosInterceptor needs a Chaos (from createChaos()), got object');
  });
});

import { CircuitBreaker } from '@lifeline/breaker';
import { isLifelineError } from '@lifeline/core';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { fetch, type Dispatcher } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { createClient, createDispatcher } from '../src/index.ts';
import { catchError, quickBackoff, startServer, type TestServer } from './servers.ts';

// The breaker lives in the pipeline, so the client and fetch() (undici's, with the
// Lifeline dispatcher) get the same one: opened by failures, failing fast once open, and
// never taking away an answer a call already has.

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function server(handler: Parameters<typeof startServer>[0]): Promise<TestServer> {
  const s = await startServer(handler);
  cleanup.push(() => s.close());
  return s;
}

function dispatcher(options: Parameters<typeof createDispatcher>[0]): Dispatcher {
  const d = createDispatcher(options);
  cleanup.push(() => d.destroy());
  return d;
}

/** The Lifeline error a rejected fetch carries as its cause. */
async function fetchFailure(promise: Promise<unknown>): Promise<unknown> {
  const error = await catchError(promise);
  expect(error).toBeInstanceOf(TypeError); // fetch's own "fetch failed"
  return (error as Error).cause;
}

describe('the breaker, through fetch()', () => {
  it('opens after failures; then a fetch fails fast with the CIRCUIT_OPEN LifelineError as its cause, nothing sent', async () => {
    const s = await server((_req, res) => res.writeHead(500).end('down'));
    const d = dispatcher({ baseUrl: s.url, breaker: { consecutiveFailures: 3, breakDuration: 60_000 }, retry: { backoff: quickBackoff } });
    const res = await fetch(`${s.url}/x`, { dispatcher: d });
    expect(res.status).toBe(500); // three attempts, the last answer returned
    expect(await res.text()).toBe('down');
    expect(s.seen).toHaveLength(3);
    const cause = await fetchFailure(fetch(`${s.url}/x`, { dispatcher: d }));
    expect(isLifelineError(cause, 'CIRCUIT_OPEN')).toBe(true);
    expect(cause).toMatchObject({ attempts: 0, retryable: false, service: `127.0.0.1:${s.port}` });
    expect(s.seen).toHaveLength(3);
  });

  it('an interceptor for any origin keeps a breaker per origin: one failing host does not stop another', async () => {
    const failing = await server((_req, res) => res.writeHead(503).end());
    const healthy = await server((_req, res) => res.writeHead(200).end('ok'));
    const d = dispatcher({ breaker: { consecutiveFailures: 2, breakDuration: 60_000 }, retry: false });
    for (let i = 0; i < 2; i++) expect((await fetch(`${failing.url}/`, { dispatcher: d })).status).toBe(503);
    const cause = await fetchFailure(fetch(`${failing.url}/`, { dispatcher: d }));
    expect(isLifelineError(cause, 'CIRCUIT_OPEN')).toBe(true);
    expect(await (await fetch(`${healthy.url}/`, { dispatcher: d })).text()).toBe('ok');
  });

  it('a dispatcher for a baseUrl refuses a request for another origin (its Pool would send it to the baseUrl)', async () => {
    const s = await server((_req, res) => res.writeHead(200).end('ok'));
    const d = dispatcher({ baseUrl: s.url });
    const cause = await fetchFailure(fetch('http://127.0.0.2:8081/x', { dispatcher: d }));
    expect((cause as Error).message).toMatch(/sends to http:\/\/127\.0\.0\.1:\d+ \(its baseUrl\); a request for "http:\/\/127\.0\.0\.2:8081" is refused/);
    expect(s.seen).toHaveLength(0);
  });
});

describe('the answer wins over the breaker', () => {
  // One failure opens the breaker: the first attempt's 503 opens it, so its retry is refused.
  const busy = (_req: unknown, res: { writeHead: (s: number, h: Record<string, string>) => { end: (b: string) => void } }): void =>
    res.writeHead(503, { 'retry-after': '0', 'x-from': 'server' }).end('{"error":"busy"}');

  it('the client ends with HTTP_STATUS 503, its body and headers, not CIRCUIT_OPEN; the refusal is an event on the call span', async () => {
    const s = await server(busy);
    const spans = new InMemorySpanExporter();
    const tracerProvider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter: spans })] });
    const breaker = new CircuitBreaker({ name: 'payment', consecutiveFailures: 1, breakDuration: 60_000 });
    const client = createClient({ name: 'payment', baseUrl: s.url, breaker, retry: { backoff: quickBackoff }, tracerProvider });
    cleanup.push(() => client.destroy());
    const error = await catchError(client.get('/charges/1'));
    expect(error).toMatchObject({ code: 'HTTP_STATUS', status: 503, body: '{"error":"busy"}', attempts: 1 });
    expect((error as { headers: Record<string, string> }).headers['x-from']).toBe('server');
    expect(breaker.state).toBe('open');
    expect(s.seen).toHaveLength(1);
    const call = spans.getFinishedSpans().find((span) => span.name === 'GET payment')!;
    expect(call.events.map((e) => e.name)).toContain('lifeline.breaker.rejected');
    // The next call has no answer to keep: it fails fast.
    await expect(client.get('/charges/1')).rejects.toMatchObject({ code: 'CIRCUIT_OPEN' });
  });

  it('fetch() receives the 503 response itself', async () => {
    const s = await server(busy);
    const d = dispatcher({ baseUrl: s.url, breaker: { consecutiveFailures: 1, breakDuration: 60_000 }, retry: { backoff: quickBackoff } });
    const res = await fetch(`${s.url}/charges/1`, { dispatcher: d });
    expect(res.status).toBe(503);
    expect(res.headers.get('x-from')).toBe('server');
    expect(await res.text()).toBe('{"error":"busy"}');
    expect(s.seen).toHaveLength(1);
    const cause = await fetchFailure(fetch(`${s.url}/charges/1`, { dispatcher: d }));
    expect(isLifelineError(cause, 'CIRCUIT_OPEN')).toBe(true);
  });

  it('a held answer larger than what is kept in memory (a paused connection) still arrives whole', async () => {
    const big = 'x'.repeat(300 * 1024);
    const s = await server((_req, res) => res.writeHead(503, { 'retry-after': '0' }).end(big));
    const d = dispatcher({ baseUrl: s.url, breaker: { consecutiveFailures: 1, breakDuration: 60_000 }, retry: { backoff: { next: () => 50 } } });
    const res = await fetch(`${s.url}/big`, { dispatcher: d });
    expect(res.status).toBe(503);
    expect((await res.text()).length).toBe(big.length);
    expect(s.seen).toHaveLength(1);
  });
});

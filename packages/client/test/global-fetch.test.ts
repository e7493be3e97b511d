import { isLifelineError } from '@lifeline/core';
import { afterEach, describe, expect, it } from 'vitest';
import { createDispatcher } from '../src/index.ts';
import { catchError, quickBackoff, startServer, type TestServer } from './servers.ts';

// Node's global fetch() bundles its own undici (process.versions.undici), older than the
// one this package builds on: it drives a dispatcher with the older handler callbacks
// (onConnect, onHeaders, onData, onComplete, onError). The pipeline speaks both, so the
// global fetch gets the whole pipeline too — and never hangs.

let server: TestServer | undefined;
let dispatcher: ReturnType<typeof createDispatcher> | undefined;
afterEach(async () => {
  await dispatcher?.destroy();
  await server?.close();
  server = dispatcher = undefined;
});

/** The global fetch, typed for a dispatcher from this package's undici (the runtime accepts any dispatcher). */
function globalFetch(url: string, init: Omit<RequestInit, 'dispatcher'> & { dispatcher: unknown }): Promise<Response> {
  return globalThis.fetch(url, init as RequestInit);
}

/** Fails the test instead of letting it hang. */
function within<T>(ms: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer and no error within ${ms} ms`)), ms);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

describe("Node's global fetch() with the Lifeline dispatcher", () => {
  it('is a different undici than the one this package uses (the case this guards)', () => {
    expect(process.versions.undici).toMatch(/^\d+\./);
  });

  it('a GET gets its answer, headers and body, with the wire headers sent', async () => {
    server = await startServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain', 'x-a': 'b' }).end('hello'));
    dispatcher = createDispatcher();
    const res = await within(5_000, globalFetch(`${server.url}/x`, { dispatcher }));
    expect(res.status).toBe(200);
    expect(res.headers.get('x-a')).toBe('b');
    expect(await res.text()).toBe('hello');
    expect(server.seen[0]!.headers).toMatchObject({ 'x-request-attempt': '1', 'x-request-id': expect.any(String) });
  });

  it("retries a 503 and a PUT's body under the same rules as undici's fetch", async () => {
    server = await startServer((_req, res, n) => (n === 1 ? res.writeHead(503).end('busy') : res.writeHead(200).end(server!.seen[n - 1]!.body)));
    dispatcher = createDispatcher({ retry: { backoff: quickBackoff } });
    const res = await within(5_000, globalFetch(`${server.url}/items/1`, { dispatcher, method: 'PUT', body: 'x' }));
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('x');
    expect(server.seen).toHaveLength(2);
  });

  it('a large body streams through with backpressure', async () => {
    const big = 'z'.repeat(4 * 1024 * 1024);
    server = await startServer((_req, res) => res.writeHead(200).end(big));
    dispatcher = createDispatcher();
    const res = await within(10_000, globalFetch(`${server.url}/big`, { dispatcher }));
    expect((await res.text()).length).toBe(big.length);
  });

  it('a failure rejects at once, the Lifeline error as its cause (an open breaker)', async () => {
    server = await startServer((_req, res) => res.writeHead(500).end());
    dispatcher = createDispatcher({ retry: false, breaker: { consecutiveFailures: 1, breakDuration: 60_000 } });
    expect((await within(5_000, globalFetch(`${server.url}/`, { dispatcher }))).status).toBe(500);
    const error = await within(5_000, catchError(globalFetch(`${server.url}/`, { dispatcher })));
    expect(error).toBeInstanceOf(TypeError);
    expect(isLifelineError((error as Error).cause, 'CIRCUIT_OPEN')).toBe(true);
  });

  it('its own AbortSignal ends the call', async () => {
    server = await startServer(() => {});
    dispatcher = createDispatcher({ timeout: 10_000, attemptTimeout: 10_000 });
    const error = await within(5_000, catchError(globalFetch(`${server.url}/hang`, { dispatcher, signal: AbortSignal.timeout(100) })));
    expect((error as Error).name).toMatch(/TimeoutError|AbortError/);
  });
});

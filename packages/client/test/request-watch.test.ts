import { getEventListeners } from 'node:events';
import { isLifelineError, LifelineError } from '@lifeline/core';
import { runWithRequestContext, type RequestContext, type RequestWatcher } from '@lifeline/trace';
import { ROOT_CONTEXT } from '@opentelemetry/api';
import { fetch, type Dispatcher } from 'undici';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createClient, createDispatcher, type LifelineClient } from '../src/index.ts';
import { catchError, closedPort, startServer, type TestServer } from './servers.ts';

/**
 * A request being handled that can be watched, as `@lifeline/server`'s: it records every
 * watch and unwatch, and counts reads of `signal` (which would make an AbortController).
 */
class WatchableRequest implements RequestContext {
  readonly requestId = 'req-watched';
  readonly deadline = undefined;
  readonly attempt = undefined;
  readonly context = ROOT_CONTEXT;
  signalReads = 0;
  readonly watched: RequestWatcher[] = [];
  readonly unwatched: RequestWatcher[] = [];
  readonly #watchers = new Set<RequestWatcher>();
  #reason: unknown = undefined;

  get signal(): AbortSignal | undefined {
    this.signalReads++;
    return undefined;
  }

  watch(watcher: RequestWatcher): unknown {
    if (this.#reason !== undefined) return this.#reason;
    this.watched.push(watcher);
    this.#watchers.add(watcher);
    return undefined;
  }

  unwatch(watcher: RequestWatcher): void {
    this.unwatched.push(watcher);
    this.#watchers.delete(watcher);
  }

  /** The request is cancelled: every watcher is told, once. */
  cancel(reason: unknown): void {
    this.#reason = reason;
    for (const watcher of [...this.#watchers]) watcher.onRequestAbort(reason);
  }

  /** Watchers told of a cancellation were they to come now. */
  get watching(): number {
    return this.#watchers.size;
  }
}

function clientGone(): LifelineError {
  return new LifelineError('ABORTED', 'the client closed the connection before the response was complete', { retryable: false });
}

let server: TestServer | undefined;
let client: LifelineClient | undefined;
let dispatcher: Dispatcher | undefined;
afterEach(async () => {
  await client?.destroy();
  await dispatcher?.destroy();
  await server?.close();
  server = client = dispatcher = undefined;
});

function hangingServer(): Promise<TestServer> {
  return startServer(() => {
    /* never answers */
  });
}

describe('a call inside a request that can be watched', () => {
  it('is aborted with the reason when the request is cancelled, and never reads its signal', async () => {
    server = await hangingServer();
    client = createClient({ name: 'dep', baseUrl: server.url, timeout: 10_000, attemptTimeout: 10_000 });
    const request = new WatchableRequest();
    const pending = catchError(runWithRequestContext(request, () => client!.get('/')));
    await vi.waitFor(() => expect(server!.seen).toHaveLength(1));
    expect(request.watched).toHaveLength(1);
    expect(request.unwatched).toHaveLength(0);
    const reason = clientGone();
    request.cancel(reason);
    expect(await pending).toBe(reason);
    expect(request.unwatched).toEqual(request.watched);
    expect(request.watching).toBe(0);
    expect(request.signalReads).toBe(0);
    expect(client.inFlight).toBe(0);
  });

  it('through fetch(): aborted with the reason as the cause, its signal never read', async () => {
    server = await hangingServer();
    dispatcher = createDispatcher({ baseUrl: server.url, timeout: 10_000, attemptTimeout: 10_000 });
    const request = new WatchableRequest();
    const pending = catchError(runWithRequestContext(request, () => fetch(`${server!.url}/`, { dispatcher })));
    await vi.waitFor(() => expect(server!.seen).toHaveLength(1));
    const reason = clientGone();
    request.cancel(reason);
    const error = await pending;
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).cause).toBe(reason);
    expect(request.watched).toHaveLength(1);
    expect(request.unwatched).toEqual(request.watched);
    expect(request.signalReads).toBe(0);
  });

  it('a reason that is no Lifeline error fails the call with ABORTED, the reason as its cause', async () => {
    server = await hangingServer();
    client = createClient({ name: 'dep', baseUrl: server.url, timeout: 10_000, attemptTimeout: 10_000 });
    const request = new WatchableRequest();
    const pending = catchError(runWithRequestContext(request, () => client!.get('/')));
    await vi.waitFor(() => expect(server!.seen).toHaveLength(1));
    const reason = new Error('shutting down');
    request.cancel(reason);
    const error = await pending;
    expect(isLifelineError(error, 'ABORTED')).toBe(true);
    expect((error as Error).cause).toBe(reason);
  });

  it('stays watched until the body is read, and is unwatched once the call succeeds', async () => {
    let finish: (() => void) | undefined;
    server = await startServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first ');
      finish = () => res.end('last');
    });
    client = createClient({ name: 'dep', baseUrl: server.url });
    const request = new WatchableRequest();
    const res = await runWithRequestContext(request, () => client!.get('/'));
    // Headers are in, the body is not: a cancellation now must still reach the call.
    expect(request.watched).toHaveLength(1);
    expect(request.unwatched).toHaveLength(0);
    const text = res.body.text();
    await vi.waitFor(() => expect(finish).toBeDefined());
    finish!();
    expect(await text).toBe('first last');
    expect(request.unwatched).toEqual(request.watched);
    expect(request.signalReads).toBe(0);
  });

  it('through fetch(): unwatched once the body has been read', async () => {
    server = await startServer((_req, res) => res.writeHead(200).end('ok'));
    dispatcher = createDispatcher({ baseUrl: server.url });
    const request = new WatchableRequest();
    const res = await runWithRequestContext(request, () => fetch(`${server!.url}/`, { dispatcher }));
    expect(await res.text()).toBe('ok');
    expect(request.watched).toHaveLength(1);
    expect(request.unwatched).toEqual(request.watched);
    expect(request.signalReads).toBe(0);
  });

  it('is unwatched once the call fails', async () => {
    client = createClient({ name: 'dep', baseUrl: `http://127.0.0.1:${await closedPort()}`, retry: { maxAttempts: 1 } });
    const request = new WatchableRequest();
    const error = await catchError(runWithRequestContext(request, () => client!.get('/')));
    expect(isLifelineError(error, 'CONNECT')).toBe(true);
    expect(request.watched).toHaveLength(1);
    expect(request.unwatched).toEqual(request.watched);
    expect(request.watching).toBe(0);
  });

  it('an already cancelled request fails the call at once with its reason: nothing is sent, nothing left watched', async () => {
    server = await startServer((_req, res) => res.writeHead(200).end('ok'));
    client = createClient({ name: 'dep', baseUrl: server.url });
    dispatcher = createDispatcher({ baseUrl: server.url });
    const request = new WatchableRequest();
    const reason = clientGone();
    request.cancel(reason);
    expect(await catchError(runWithRequestContext(request, () => client!.get('/')))).toBe(reason);
    const error = await catchError(runWithRequestContext(request, () => fetch(`${server!.url}/`, { dispatcher })));
    expect((error as Error).cause).toBe(reason);
    expect(server.seen).toHaveLength(0);
    expect(request.watched).toHaveLength(0);
    expect(request.unwatched).toHaveLength(0);
    expect(request.signalReads).toBe(0);
    expect(client.inFlight).toBe(0);
  });

  it('waiting for a bulkhead slot, leaves the queue at once when the request is cancelled', async () => {
    server = await hangingServer();
    client = createClient({ name: 'dep', baseUrl: server.url, timeout: 10_000, attemptTimeout: 10_000, bulkhead: { maxConcurrent: 1, maxQueue: 5 } });
    const first = catchError(client.get('/'));
    await vi.waitFor(() => expect(server!.seen).toHaveLength(1));
    const request = new WatchableRequest();
    const queued = catchError(runWithRequestContext(request, () => client!.get('/')));
    expect(client.snapshot().bulkhead).toMatchObject({ inFlight: 1, queued: 1 });
    const reason = clientGone();
    request.cancel(reason);
    expect(await queued).toBe(reason);
    expect(client.snapshot().bulkhead).toMatchObject({ inFlight: 1, queued: 0 });
    expect(request.unwatched).toEqual(request.watched);
    expect(request.signalReads).toBe(0);
    await client.destroy();
    expect(isLifelineError(await first, 'ABORTED')).toBe(true);
  });

  it("the caller's own signal still aborts the call, which is then unwatched", async () => {
    server = await hangingServer();
    client = createClient({ name: 'dep', baseUrl: server.url, timeout: 10_000, attemptTimeout: 10_000 });
    const request = new WatchableRequest();
    const controller = new AbortController();
    const pending = catchError(runWithRequestContext(request, () => client!.get('/', { signal: controller.signal })));
    await vi.waitFor(() => expect(server!.seen).toHaveLength(1));
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    controller.abort(new Error('caller gave up'));
    const error = await pending;
    expect(isLifelineError(error, 'ABORTED')).toBe(true);
    expect((error as Error).cause).toEqual(new Error('caller gave up'));
    expect(request.unwatched).toEqual(request.watched);
    expect(request.watched).toHaveLength(1);
    expect(request.signalReads).toBe(0);
  });

  it("with a caller's own signal too, the request's cancellation still aborts the call", async () => {
    server = await hangingServer();
    client = createClient({ name: 'dep', baseUrl: server.url, timeout: 10_000, attemptTimeout: 10_000 });
    const request = new WatchableRequest();
    const controller = new AbortController();
    const pending = catchError(runWithRequestContext(request, () => client!.get('/', { signal: controller.signal })));
    await vi.waitFor(() => expect(server!.seen).toHaveLength(1));
    const reason = clientGone();
    request.cancel(reason);
    expect(await pending).toBe(reason);
    expect(request.unwatched).toEqual(request.watched);
    // The call no longer listens to the caller's signal.
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });
});

describe('a call inside a request that cannot be watched (no `watch`)', () => {
  it('through fetch(): follows the request through its signal', async () => {
    server = await hangingServer();
    dispatcher = createDispatcher({ baseUrl: server.url, timeout: 10_000, attemptTimeout: 10_000 });
    const controller = new AbortController();
    const request: RequestContext = { requestId: 'req-plain', deadline: undefined, signal: controller.signal, attempt: undefined, context: ROOT_CONTEXT };
    const pending = catchError(runWithRequestContext(request, () => fetch(`${server!.url}/`, { dispatcher })));
    await vi.waitFor(() => expect(server!.seen).toHaveLength(1));
    const reason = clientGone();
    controller.abort(reason);
    expect(((await pending) as Error).cause).toBe(reason);
  });

  it('an already aborted signal fails the call before anything is sent', async () => {
    server = await startServer((_req, res) => res.writeHead(200).end('ok'));
    dispatcher = createDispatcher({ baseUrl: server.url });
    const reason = clientGone();
    const request: RequestContext = { requestId: 'req-plain', deadline: undefined, signal: AbortSignal.abort(reason), attempt: undefined, context: ROOT_CONTEXT };
    const error = await catchError(runWithRequestContext(request, () => fetch(`${server!.url}/`, { dispatcher })));
    expect((error as Error).cause).toBe(reason);
    expect(server.seen).toHaveLength(0);
  });
});

import { Bulkhead } from '@lifeline/bulkhead';
import { runWithRequestContext, type RequestContext } from '@lifeline/trace';
import type { Priority } from '@lifeline/core';
import { ROOT_CONTEXT } from '@opentelemetry/api';
import { fetch } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { createClient, createDispatcher, type LifelineClient } from '../src/index.ts';
import { catchError, startServer, type TestServer } from './servers.ts';

/** A request being handled, with the priority its caller sent. */
function inbound(priority: Priority | undefined): RequestContext {
  return { requestId: 'req-1', deadline: undefined, signal: undefined, attempt: undefined, context: ROOT_CONTEXT, priority };
}

let server: TestServer | undefined;
let client: LifelineClient | undefined;
afterEach(async () => {
  await client?.close();
  await server?.close();
  client = server = undefined;
});

describe('x-request-priority', () => {
  it('goes on like the deadline: a call inside a request sends the request’s priority on every attempt; a call’s own wins', async () => {
    server = await startServer((_req, res, n) => res.writeHead(n === 1 ? 503 : 200).end('ok'));
    client = createClient({ baseUrl: server.url, retry: { backoff: { next: () => 1 } } });
    const c = client;
    await runWithRequestContext(inbound('critical'), () => c.get('/inside'));
    await runWithRequestContext(inbound('critical'), () => c.get('/own', { headers: { 'x-request-priority': 'sheddable' } }));
    await c.get('/outside');
    const priorities = server.seen.map((seen) => [seen.url, seen.headers['x-request-priority']]);
    expect(priorities).toEqual([
      ['/inside', 'critical'],
      ['/inside', 'critical'], // the retry of the 503
      ['/own', 'sheddable'],
      ['/outside', undefined],
    ]);
  });

  it('is set per call with the priority option, over the inbound request\'s, and a bad one is refused naming it', async () => {
    server = await startServer((_req, res) => res.end('ok'));
    client = createClient({ baseUrl: server.url });
    const c = client;
    await runWithRequestContext(inbound('critical'), () => c.get('/batch', { priority: 'sheddable' }));
    await c.get('/plain', { priority: 'critical' });
    await expect(c.get('/bad', { priority: 'urgent' as Priority })).rejects.toThrow(
      "lifeline: option `priority` must be 'critical', 'normal' or 'sheddable', got \"urgent\"",
    );
    expect(server.seen.map((seen) => [seen.url, seen.headers['x-request-priority']])).toEqual([
      ['/batch', 'sheddable'],
      ['/plain', 'critical'],
    ]);
  });

  it('goes on through fetch() with createDispatcher() too, without overriding the caller’s header', async () => {
    server = await startServer((_req, res) => res.end('ok'));
    const dispatcher = createDispatcher({ baseUrl: server.url });
    try {
      await runWithRequestContext(inbound('sheddable'), async () => {
        await (await fetch(`${server!.url}/a`, { dispatcher })).text();
        await (await fetch(`${server!.url}/b`, { dispatcher, headers: { 'X-Request-Priority': 'critical' } })).text();
      });
    } finally {
      await dispatcher.close();
    }
    expect(server.seen.map((seen) => seen.headers['x-request-priority'])).toEqual(['sheddable', 'critical']);
  });

  it('orders the limiter’s queue: a critical call waiting for a slot goes before a normal one, and displaces it when the queue is full', async () => {
    const release: (() => void)[] = [];
    server = await startServer((_req, res) => release.push(() => res.end('ok')));
    const bulkhead = new Bulkhead({ maxConcurrent: 1, maxQueue: 1 });
    client = createClient({ baseUrl: server.url, bulkhead, retry: false });
    const c = client;
    const first = c.get('/first');
    await waitFor(() => release.length === 1);
    const normal = catchError(c.get('/normal'));
    await waitFor(() => bulkhead.queued === 1);
    const critical = runWithRequestContext(inbound('critical'), () => c.get('/critical'));
    // The queue holds one: the critical call takes the normal one's place.
    expect(await normal).toMatchObject({ code: 'BULKHEAD_REJECTED', reason: 'queue-full' });
    release.shift()!();
    await first;
    await waitFor(() => release.length === 1);
    release.shift()!();
    expect((await critical).status).toBe(200);
    expect(server.seen.map((seen) => seen.url)).toEqual(['/first', '/critical']);
  });
});

async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
  expect(condition()).toBe(true);
}

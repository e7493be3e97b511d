import { LifelineError } from '@lifeline/core';
import { currentRequestContext } from '@lifeline/trace';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Engine } from '../src/engine.ts';
import { requestContext } from '../src/index.ts';
import type { InboundRequest } from '../src/inbound-request.ts';
import { adapters, type App, type AppOptions, type Route } from './apps.ts';
import { gate, send, sendAndHangUp, waitFor } from './helpers.ts';

// One behaviour table, run against each adapter: the three go through the same engine path, so
// they must answer alike.
describe.each(Object.keys(adapters) as (keyof typeof adapters)[])('%s through the engine', (name) => {
  let app: App | undefined;
  afterEach(async () => {
    vi.restoreAllMocks();
    await app?.close();
    app = undefined;
  });
  const start = async (route: Route, options?: AppOptions): Promise<App> => (app = await adapters[name](route, options));

  it('enters the engine once per request, echoes the request id and runs the route in the request context', async () => {
    const enter = vi.spyOn(Engine.prototype, 'enter');
    const { url, lifeline } = await start(async (req) => {
      await Promise.resolve();
      return { fromReq: requestContext(req)?.requestId, current: currentRequestContext()?.requestId };
    });
    const fresh = await send(url, { path: '/a' });
    const given = await send(url, { path: '/b', headers: { 'x-request-id': 'order-42' } });
    expect(enter).toHaveBeenCalledTimes(2);
    const id = fresh.headers['x-request-id'] as string;
    expect(id).toMatch(/^[\w-]+-\w+$/);
    expect(JSON.parse(fresh.body)).toEqual({ fromReq: id, current: id });
    expect(given.headers['x-request-id']).toBe('order-42');
    expect(JSON.parse(given.body)).toEqual({ fromReq: 'order-42', current: 'order-42' });
    await waitFor(() => lifeline.snapshot().requests.inFlight === 0, 5_000, 'no request in flight');
    expect(lifeline.snapshot().requests.total).toBe(2);
  });

  it('answers the health probes in the engine, before any route', async () => {
    const enter = vi.spyOn(Engine.prototype, 'enter');
    const route = vi.fn(() => 'route');
    const { url, lifeline } = await start(route);
    for (const path of ['/health/live', '/health/ready']) {
      const reply = await send(url, { path });
      expect(reply.status).toBe(200);
      expect(reply.headers['content-type']).toBe('application/health+json');
      expect(JSON.parse(reply.body)).toEqual({ status: 'pass' });
    }
    expect(enter).toHaveBeenCalledTimes(2);
    expect(route).not.toHaveBeenCalled();
    expect(lifeline.snapshot().requests.total).toBe(0);
  });

  it('refuses a request whose inbound deadline is spent with a 504 problem, before the route', async () => {
    const route = vi.fn(() => 'route');
    const { url, lifeline } = await start(route);
    const reply = await send(url, { headers: { 'x-request-timeout-ms': '0' } });
    expect(reply.status).toBe(504);
    expect(reply.headers['content-type']).toBe('application/problem+json');
    expect(JSON.parse(reply.body)).toMatchObject({ code: 'DEADLINE_EXCEEDED', requestId: reply.headers['x-request-id'] });
    expect(route).not.toHaveBeenCalled();
    expect(lifeline.snapshot().refused.deadlineSpent).toBe(1);
  });

  it('sheds over the concurrency limit with 503 and Retry-After, and frees the slot when the response ends', async () => {
    const held = gate();
    let entered = 0;
    const { url, lifeline } = await start(
      async () => {
        entered++;
        await held.promise;
        return 'done';
      },
      { lifeline: { shedding: { maxConcurrent: 1, maxQueue: 0 } } },
    );
    const first = send(url, { path: '/first' });
    await waitFor(() => entered === 1, 5_000, 'the first request to run');
    const shed = await send(url, { path: '/second' });
    expect(shed.status).toBe(503);
    expect(shed.headers['retry-after']).toBe('1');
    expect(JSON.parse(shed.body)).toMatchObject({ code: 'OVERLOADED' });
    held.open();
    expect((await first).status).toBe(200);
    await waitFor(() => lifeline.snapshot().shedding?.active === 0, 5_000, 'the slot to be released');
    expect((await send(url, { path: '/third' })).status).toBe(200);
    expect(lifeline.snapshot().shedding?.shed.queueFull).toBe(1);
  });

  it.each([
    ['a Lifeline error', () => new LifelineError('CIRCUIT_OPEN', 'payment is open', { retryAfterMs: 2_000 }), 503, 'CIRCUIT_OPEN'],
    ['any other error', () => new Error('boom'), 500, 'INTERNAL'],
  ])('answers %s thrown by the route with its problem response', async (_what, error, status, code) => {
    vi.spyOn(console, 'error').mockImplementation(() => {});
    const { url } = await start(() => {
      throw error();
    });
    const reply = await send(url);
    expect(reply.status).toBe(status);
    expect(JSON.parse(reply.body)).toMatchObject({ code, requestId: reply.headers['x-request-id'] });
    expect(reply.body).not.toContain('boom');
  });

  it('tells a watcher, without an AbortController, when the client goes away', async () => {
    const reasons: unknown[] = [];
    let controllerMade = false;
    const { url, lifeline } = await start(async (req) => {
      const inbound = requestContext(req) as InboundRequest;
      const descriptor = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(inbound), 'signal')!;
      Object.defineProperty(inbound, 'signal', {
        get() {
          controllerMade = true;
          return descriptor.get!.call(inbound) as AbortSignal;
        },
      });
      expect(inbound.watch({ onRequestAbort: (reason) => reasons.push(reason) })).toBeUndefined();
      await new Promise(() => {});
    });
    await sendAndHangUp(url, '/slow', 100);
    await waitFor(() => reasons.length === 1, 5_000, 'the watcher to be told');
    expect(reasons[0]).toMatchObject({ code: 'ABORTED' });
    await waitFor(() => lifeline.snapshot().requests.inFlight === 0, 5_000, 'no request in flight');
    expect(controllerMade).toBe(false);
  });
});

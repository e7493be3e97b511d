import { afterEach, describe, expect, it } from 'vitest';
import { createLifeline, type Lifeline } from '../src/index.ts';
import { gate, send, sendAndHangUp, startServer, waitFor, type Reply } from './helpers.ts';

let stop: (() => Promise<void>) | undefined;
afterEach(async () => {
  await stop?.();
  stop = undefined;
});

/** A server whose handler counts its runs and waits for the gate. */
async function slowServer(lifeline: Lifeline): Promise<{ url: string; runs: () => number; release: () => void }> {
  let runs = 0;
  const held = gate();
  const { url, close } = await startServer(
    lifeline.handler(async (_req, res) => {
      runs++;
      await held.promise;
      res.end('done');
    }),
  );
  stop = close;
  return { url, runs: () => runs, release: held.open };
}

describe('load shedding', () => {
  it('with 2 in flight + 1 queued, sheds exactly the overflow of a burst with 503 + Retry-After before the handler runs', async () => {
    const lifeline = createLifeline({ shedding: { maxConcurrent: 2, maxQueue: 1, queueTimeout: 10_000, retryAfterMs: 2_500 } });
    const { url, runs, release } = await slowServer(lifeline);
    const replies: Reply[] = [];
    const burst = Array.from({ length: 7 }, () => send(url, { path: '/work' }).then((reply) => (replies.push(reply), reply)));
    await waitFor(() => replies.length === 4, 5_000, 'the shed replies');
    // Nothing has been let through yet: all four answers so far are refusals.
    expect(replies.map((reply) => reply.status)).toEqual([503, 503, 503, 503]);
    expect(runs()).toBe(2);
    expect(lifeline.snapshot().shedding).toMatchObject({ active: 2, queued: 1, shed: { queueFull: 4, queueTimeout: 0, deadline: 0 } });
    for (const reply of replies) {
      expect(reply.headers['retry-after']).toBe('3');
      expect(reply.headers['content-type']).toBe('application/problem+json');
      expect(JSON.parse(reply.body)).toMatchObject({ status: 503, code: 'OVERLOADED', requestId: reply.headers['x-request-id'] });
    }
    release();
    const all = await Promise.all(burst);
    expect(all.filter((reply) => reply.status === 200)).toHaveLength(3);
    expect(all.filter((reply) => reply.status === 503)).toHaveLength(4);
    expect(runs()).toBe(3);
    expect(lifeline.snapshot().shedding).toMatchObject({ active: 0, queued: 0 });
  });

  it('sheds the least critical first: a critical request takes a queued normal one\'s place, and a sheddable one finds no room', async () => {
    const lifeline = createLifeline({ shedding: { maxConcurrent: 1, maxQueue: 1, queueTimeout: 10_000 } });
    const order: string[] = [];
    const held = gate();
    const { url, close } = await startServer(
      lifeline.handler(async (req, res) => {
        order.push(req.url!);
        if (req.url === '/first') await held.promise;
        res.end('done');
      }),
    );
    stop = close;
    const first = send(url, { path: '/first' });
    await waitFor(() => order.length === 1, 5_000, 'the first request to run');
    const normal = send(url, { path: '/normal' });
    await waitFor(() => lifeline.snapshot().shedding?.queued === 1, 5_000, 'the normal request to queue');
    const sheddable = await send(url, { path: '/sheddable', headers: { 'x-request-priority': 'sheddable' } });
    expect(sheddable.status).toBe(503);
    const critical = send(url, { path: '/critical', headers: { 'x-request-priority': 'critical' } });
    expect((await normal).status).toBe(503);
    held.open();
    expect((await first).status).toBe(200);
    expect((await critical).status).toBe(200);
    expect(order).toEqual(['/first', '/critical']);
    expect(lifeline.snapshot().shedding?.shed.queueFull).toBe(2);
  });

  it('sheds a queued request when queueTimeout passes first', async () => {
    const lifeline = createLifeline({ shedding: { maxConcurrent: 1, maxQueue: 5, queueTimeout: 100 } });
    const { url, runs, release } = await slowServer(lifeline);
    const first = send(url);
    await waitFor(() => runs() === 1, 5_000, 'the first request');
    const started = performance.now();
    const queued = await send(url);
    expect(queued.status).toBe(503);
    expect(queued.headers['retry-after']).toBe('1');
    expect(performance.now() - started).toBeGreaterThanOrEqual(80);
    expect(lifeline.snapshot().shedding?.shed.queueTimeout).toBe(1);
    release();
    expect((await first).status).toBe(200);
    expect(runs()).toBe(1);
  });

  it('bounds the queue wait by the request deadline', async () => {
    const lifeline = createLifeline({ shedding: { maxConcurrent: 1, maxQueue: 5, queueTimeout: 10_000 } });
    const { url, runs, release } = await slowServer(lifeline);
    const first = send(url);
    await waitFor(() => runs() === 1, 5_000, 'the first request');
    const queued = await send(url, { headers: { 'x-request-timeout-ms': '150' } });
    expect(queued.status).toBe(503);
    expect(lifeline.snapshot().shedding?.shed.deadline).toBe(1);
    release();
    await first;
  });

  it('answers health probes while saturated', async () => {
    const lifeline = createLifeline({ shedding: { maxConcurrent: 1, maxQueue: 0 } });
    const { url, runs, release } = await slowServer(lifeline);
    const first = send(url);
    await waitFor(() => runs() === 1, 5_000, 'the first request');
    expect((await send(url)).status).toBe(503);
    const live = await send(url, { path: '/health/live' });
    const ready = await send(url, { path: '/health/ready?verbose=1' });
    expect([live.status, ready.status]).toEqual([200, 200]);
    expect(ready.headers['content-type']).toBe('application/health+json');
    expect(JSON.parse(ready.body)).toEqual({ status: 'pass' });
    release();
    await first;
    expect(lifeline.snapshot().requests.total).toBe(2);
  });

  it('gives the slot of a queued client that hangs up to the next request', async () => {
    const lifeline = createLifeline({ shedding: { maxConcurrent: 1, maxQueue: 1, queueTimeout: 10_000 } });
    const { url, runs, release } = await slowServer(lifeline);
    const first = send(url);
    await waitFor(() => runs() === 1, 5_000, 'the first request');
    await sendAndHangUp(url, '/queued', 50);
    await waitFor(() => lifeline.snapshot().shedding?.queued === 0, 5_000, 'the queue to empty');
    expect(lifeline.snapshot().shedding?.abandoned).toBe(1);
    release();
    await first;
    expect((await send(url)).status).toBe(200);
    expect(runs()).toBe(2);
    expect(lifeline.snapshot().shedding).toMatchObject({ active: 0, queued: 0 });
  });
});

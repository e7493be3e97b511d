import type { Server } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { HttpStatusError, isLifelineError, LifelineError } from '@lifeline/core';
import express, { type Express } from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { lifelineErrorHandler, lifelineMiddleware } from '../src/express.ts';
import { createLifeline, currentRequestContext, type Lifeline, type LifelineOptions } from '../src/index.ts';
import { closeServer, gate, listen, send, sendAndHangUp, waitFor } from './helpers.ts';

let server: Server | undefined;
afterEach(async () => {
  if (server !== undefined) await closeServer(server);
  server = undefined;
});

function build(options: LifelineOptions = {}): { app: Express; lifeline: Lifeline } {
  const lifeline = createLifeline({ shedding: false, ...options });
  const app = express();
  app.use(lifelineMiddleware(lifeline));
  return { app, lifeline };
}

async function start(app: Express, lifeline: Lifeline): Promise<string> {
  app.use(lifelineErrorHandler(lifeline));
  server = app.listen(0, '127.0.0.1');
  return listen(server);
}

describe('Express middleware', () => {
  it('keeps the request context through the body parser and awaits, and sets req.lifeline', async () => {
    const { app, lifeline } = build({ timeout: 2_000 });
    app.post('/ctx', express.json(), async (req, res) => {
      await delay(5);
      await new Promise((resolve) => setImmediate(resolve));
      const current = currentRequestContext();
      res.json({ same: current === req.lifeline, requestId: current?.requestId, remaining: current?.deadline?.remaining(), body: req.body });
    });
    const url = await start(app, lifeline);
    const reply = await send(url, {
      method: 'POST',
      path: '/ctx',
      headers: { 'content-type': 'application/json', 'x-request-id': 'express-1', 'x-request-timeout-ms': '400' },
      body: '{"a":1}',
    });
    expect(reply.headers['x-request-id']).toBe('express-1');
    const body = JSON.parse(reply.body);
    expect(body).toMatchObject({ same: true, requestId: 'express-1', body: { a: 1 } });
    expect(body.remaining).toBeLessThanOrEqual(400);
  });

  it('aborts req.lifeline.signal when the client disconnects', async () => {
    const { app, lifeline } = build();
    let reason: unknown;
    app.get('/slow', async (req, res) => {
      const signal = req.lifeline.signal!;
      reason = await new Promise((resolve) => signal.addEventListener('abort', () => resolve(signal.reason)));
      res.end();
    });
    const url = await start(app, lifeline);
    await sendAndHangUp(url, '/slow', 100);
    await waitFor(() => reason !== undefined, 5_000, 'the abort');
    expect(isLifelineError(reason, 'ABORTED')).toBe(true);
  });

  it('sheds before any later middleware runs', async () => {
    const { app, lifeline } = build({ shedding: { maxConcurrent: 1, maxQueue: 0 } });
    const held = gate();
    let later = 0;
    app.use((_req, _res, next) => {
      later++;
      next();
    });
    app.get('/work', async (_req, res) => {
      await held.promise;
      res.send('ok');
    });
    const url = await start(app, lifeline);
    const first = send(url, { path: '/work' });
    await waitFor(() => later === 1, 5_000, 'the first request');
    const shed = await send(url, { path: '/work' });
    expect([shed.status, shed.headers['retry-after'], JSON.parse(shed.body).code]).toEqual([503, '1', 'OVERLOADED']);
    expect(later).toBe(1);
    held.open();
    expect((await first).status).toBe(200);
  });

  it('answers the health probes', async () => {
    const { app, lifeline } = build({ health: { livePath: '/livez', readyPath: '/readyz' } });
    const url = await start(app, lifeline);
    expect((await send(url, { path: '/livez' })).status).toBe(200);
    expect(JSON.parse((await send(url, { path: '/readyz' })).body)).toEqual({ status: 'pass' });
    expect((await send(url, { path: '/health/live' })).status).toBe(404);
  });

  it('turns errors into problem responses', async () => {
    const { app, lifeline } = build();
    app.get('/deadline', () => {
      throw new LifelineError('DEADLINE_EXCEEDED', 'deadline exceeded');
    });
    app.get('/upstream', () => {
      throw new HttpStatusError(500, {}, 'oops', { service: 'payment' });
    });
    app.get('/bug', async () => {
      await delay(1);
      throw new Error('secret stack');
    });
    app.post('/json', express.json(), (_req, res) => void res.send('ok'));
    const url = await start(app, lifeline);
    const deadline = await send(url, { path: '/deadline', headers: { 'x-request-id': 'r-1' } });
    expect([deadline.status, deadline.headers['content-type']]).toEqual([504, 'application/problem+json']);
    expect(JSON.parse(deadline.body)).toMatchObject({ code: 'DEADLINE_EXCEEDED', requestId: 'r-1' });
    const upstream = await send(url, { path: '/upstream' });
    expect(upstream.status).toBe(502);
    expect(JSON.parse(upstream.body)).toMatchObject({ code: 'HTTP_STATUS', detail: 'A dependency of this service answered with an error.' });
    expect(upstream.body).not.toContain('payment');
    const bug = await send(url, { path: '/bug' });
    expect(bug.status).toBe(500);
    expect(bug.body).not.toContain('secret');
    const malformed = await send(url, { method: 'POST', path: '/json', headers: { 'content-type': 'application/json' }, body: '{nope' });
    expect(malformed.status).toBe(400);
    expect(JSON.parse(malformed.body)).toMatchObject({ code: 'BAD_REQUEST', status: 400, title: 'Bad Request' });
  });
});

import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import express, { type RequestHandler } from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { idempotent, lifelineErrorHandler, lifelineMiddleware } from '../src/express.ts';
import { createLifeline } from '../src/index.ts';
import { closeServer, listen, send, type Reply } from './helpers.ts';

let server: Server | undefined;
afterEach(async () => {
  if (server !== undefined) await closeServer(server);
  server = undefined;
});

interface Started {
  url: string;
  runs: () => number;
  errors: unknown[];
}

/** An Express app whose POST /charges route is idempotent, with the given parsers before `idempotent()`. */
async function start(parsers: RequestHandler[]): Promise<Started> {
  const errors: unknown[] = [];
  const logger = { info: () => undefined, warn: (object: object) => void errors.push((object as { err: unknown }).err) };
  const lifeline = createLifeline({ shedding: false, logger });
  const app = express();
  app.use(lifelineMiddleware(lifeline));
  let runs = 0;
  app.post('/charges', ...parsers, idempotent(lifeline), (_req, res) => {
    runs++;
    res.status(201).json({ charge: runs });
  });
  app.delete('/charges/:id', idempotent(lifeline), (_req, res) => {
    runs++;
    res.status(200).json({ deleted: runs });
  });
  app.use(lifelineErrorHandler(lifeline));
  server = app.listen(0, '127.0.0.1');
  return { url: await listen(server), runs: () => runs, errors };
}

function charge(url: string, key: string, body: string, type = 'application/json'): Promise<Reply> {
  return send(url, { method: 'POST', path: '/charges', headers: { 'idempotency-key': key, 'content-type': type }, body });
}

describe('Express idempotent() and the request body', () => {
  it('with no body parser, refuses a keyed request with a body instead of fingerprinting it as empty', async () => {
    const { url, runs, errors } = await start([]);
    const key = randomUUID();
    const first = await charge(url, key, '{"amount":100}');
    const second = await charge(url, key, '{"amount":999}');
    // Before: the second was answered with the first one's response, for another amount.
    expect(second.headers['idempotent-replayed']).toBeUndefined();
    for (const reply of [first, second]) {
      expect(reply.status).toBe(500);
      expect(JSON.parse(reply.body)).toMatchObject({ code: 'INTERNAL' });
    }
    expect(runs()).toBe(0);
    expect(errors).toHaveLength(2);
    expect((errors[0] as Error).message).toMatch(/idempotent\(\) got a request body that no body parser read .*express\.json\(\)/);
  });

  it('with a parser that skips the content type, refuses it too', async () => {
    const { url, runs } = await start([express.json()]);
    const key = randomUUID();
    expect((await charge(url, key, 'amount=100', 'text/plain')).status).toBe(500);
    expect((await charge(url, key, 'amount=999', 'text/plain')).status).toBe(500);
    expect(runs()).toBe(0);
  });

  it('with a parser, a reused key with another body is a 422', async () => {
    for (const parser of [express.json(), express.raw({ type: '*/*' }), express.text({ type: '*/*' })]) {
      const { url, runs } = await start([parser]);
      const key = randomUUID();
      expect((await charge(url, key, '{"amount":100}')).status).toBe(201);
      const reused = await charge(url, key, '{"amount":999}');
      expect(reused.status).toBe(422);
      expect(JSON.parse(reused.body)).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });
      const replay = await charge(url, key, '{"amount":100}');
      expect([replay.status, replay.headers['idempotent-replayed']]).toEqual([201, 'true']);
      expect(runs()).toBe(1);
      await closeServer(server!);
    }
  });

  it('needs no parser for a request without a body', async () => {
    const { url, runs } = await start([]);
    const key = randomUUID();
    const first = await send(url, { method: 'DELETE', path: '/charges/ch_1', headers: { 'idempotency-key': key } });
    const again = await send(url, { method: 'DELETE', path: '/charges/ch_1', headers: { 'idempotency-key': key } });
    expect([first.status, again.status, again.headers['idempotent-replayed']]).toEqual([200, 200, 'true']);
    const empty = await charge(url, randomUUID(), '');
    expect(empty.status).toBe(201);
    expect(runs()).toBe(2);
  });
});

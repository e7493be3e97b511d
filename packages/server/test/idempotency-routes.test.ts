import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { lifelineErrorHandler, idempotent, lifelineMiddleware } from '../src/express.ts';
import { lifelinePlugin } from '../src/fastify.ts';
import { createLifeline, MemoryIdempotencyStore, SqliteIdempotencyStore, type IdempotencyStore, type Lifeline } from '../src/index.ts';
import { closeServer, listen, send, sleep, startServer, waitFor, type Reply } from './helpers.ts';

/** What the business logic of the test route answers. */
interface Outcome {
  status: number;
  headers: Record<string, string>;
  body: string;
}

interface State {
  runs: number;
}

/**
 * The route under test: "charge a card". Behaviour is chosen by the `x-mode` header (headers
 * are not part of the request fingerprint, so a retry can change it): `throw-first` and
 * `fail-first` fail the first run only, `slow` takes 300 ms, `lose` makes the adapter destroy
 * the connection before writing the response.
 */
async function charge(state: State, mode: string, body: unknown): Promise<Outcome> {
  const run = ++state.runs;
  await sleep(mode === 'slow' ? 300 : 30);
  if (mode === 'throw-first' && run === 1) throw new Error('card processor bug: do not show this');
  if (mode === 'fail-first' && run === 1) return { status: 503, headers: { 'content-type': 'text/plain' }, body: 'processor down' };
  const amount = (body as { amount?: unknown } | undefined)?.amount ?? null;
  return {
    status: 201,
    headers: { 'content-type': 'application/json', 'x-charge-id': `ch_${run}`, 'set-cookie': 'session=secret' },
    body: JSON.stringify({ id: `ch_${run}`, amount }),
  };
}

interface App {
  url: string;
  state: State;
  lifeline: Lifeline;
  close: () => Promise<void>;
}

type Adapter = (store: IdempotencyStore) => Promise<App>;

const callerOf = (headers: IncomingMessage['headers']): string => String(headers['x-caller'] ?? '');

const adapters: Record<string, Adapter> = {
  'node:http': async (store) => {
    const lifeline = createLifeline({ shedding: false, idempotency: { store } });
    const state: State = { runs: 0 };
    const route = async (req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void> => {
      const mode = String(req.headers['x-mode'] ?? '');
      const outcome = await charge(state, mode, body.byteLength === 0 ? undefined : JSON.parse(body.toString()));
      if (mode === 'lose') req.socket.destroy();
      res.writeHead(outcome.status, outcome.headers).end(outcome.body);
    };
    const charges = lifeline.idempotent({ scope: (req) => callerOf(req.headers) }, route);
    const required = lifeline.idempotent({ required: true }, route);
    const { url, close } = await startServer(lifeline.handler((req, res) => (req.url!.startsWith('/required') ? required(req, res) : charges(req, res))));
    return { url, state, lifeline, close };
  },
  fastify: async (store) => {
    const lifeline = createLifeline({ shedding: false, idempotency: { store } });
    const state: State = { runs: 0 };
    const app = Fastify();
    await app.register(lifelinePlugin, { lifeline });
    const handler = async (request: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
      const mode = String(request.headers['x-mode'] ?? '');
      const outcome = await charge(state, mode, request.body);
      if (mode === 'lose') request.raw.socket.destroy();
      return reply.code(outcome.status).headers(outcome.headers).send(outcome.body);
    };
    app.post('/charges', { config: { idempotency: { scope: (request) => callerOf(request.headers) } } }, handler);
    app.post('/required', { config: { idempotency: { required: true } } }, handler);
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    return { url, state, lifeline, close: () => app.close() };
  },
  express: async (store) => {
    const lifeline = createLifeline({ shedding: false, idempotency: { store } });
    const state: State = { runs: 0 };
    const app = express();
    app.use(lifelineMiddleware(lifeline));
    const handler: express.RequestHandler = async (req, res) => {
      const mode = req.get('x-mode') ?? '';
      const outcome = await charge(state, mode, req.body);
      if (mode === 'lose') req.socket.destroy();
      res.status(outcome.status).set(outcome.headers).send(outcome.body);
    };
    app.post('/charges', express.json(), idempotent(lifeline, { scope: (req) => callerOf(req.headers) }), handler);
    app.post('/required', express.json(), idempotent(lifeline, { required: true }), handler);
    app.use(lifelineErrorHandler(lifeline));
    const server = app.listen(0, '127.0.0.1');
    const url = await listen(server);
    return { url, state, lifeline, close: () => closeServer(server) };
  },
};

interface StoreKind {
  make(): IdempotencyStore;
  cleanup(): void;
}

function storeKinds(): Record<string, () => StoreKind> {
  return {
    memory: () => ({ make: () => new MemoryIdempotencyStore(), cleanup: () => undefined }),
    sqlite: () => {
      const dir = mkdtempSync(join(tmpdir(), 'lifeline-idem-route-'));
      return { make: () => new SqliteIdempotencyStore({ path: join(dir, 'idempotency.db') }), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
    },
  };
}

function post(url: string, key: string | undefined, amount: number, extra: Record<string, string> = {}, path = '/charges'): Promise<Reply> {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...extra };
  if (key !== undefined) headers['idempotency-key'] = key;
  return send(url, { method: 'POST', path, headers, body: JSON.stringify({ amount }) });
}

for (const [adapterName, adapter] of Object.entries(adapters)) {
  for (const [storeName, kind] of Object.entries(storeKinds())) {
    describe(`Idempotency-Key over ${adapterName} with the ${storeName} store`, () => {
      let app: App;
      let stores: StoreKind;
      let store: IdempotencyStore;

      const start = async (): Promise<App> => {
        stores = kind();
        store = stores.make();
        app = await adapter(store);
        return app;
      };
      afterEach(async () => {
        await app.close();
        await store.close();
        stores.cleanup();
      });

      it('runs the handler once for 50 concurrent requests with one key; the others get 409 or the replay', async () => {
        const { url, state } = await start();
        const key = randomUUID();
        const replies = await Promise.all(Array.from({ length: 50 }, () => post(url, key, 100, { 'x-mode': 'slow' })));
        expect(state.runs).toBe(1);
        const first = replies.filter((reply) => reply.status === 201 && reply.headers['idempotent-replayed'] === undefined);
        expect(first).toHaveLength(1);
        for (const reply of replies) {
          if (reply.status === 409) {
            expect(JSON.parse(reply.body)).toMatchObject({ code: 'IDEMPOTENCY_KEY_IN_USE', status: 409 });
            expect(reply.headers['retry-after']).toBe('1');
          } else {
            expect(reply.status).toBe(201);
            expect(JSON.parse(reply.body)).toEqual({ id: 'ch_1', amount: 100 });
          }
        }
        // Once the first is done, every retry is a replay.
        const late = await post(url, key, 100);
        expect([late.status, late.headers['idempotent-replayed']]).toEqual([201, 'true']);
        expect(state.runs).toBe(1);
      });

      it('replays the stored status, headers and body, without set-cookie, with the replay’s own request id', async () => {
        const { url, state, lifeline } = await start();
        const key = `"${randomUUID()}"`;
        const first = await post(url, key, 250);
        const again = await post(url, key, 250, { 'x-request-id': 'retry-1' });
        expect(state.runs).toBe(1);
        expect(first.status).toBe(201);
        expect(first.headers['set-cookie']).toEqual(['session=secret']);
        expect(again.status).toBe(201);
        expect(again.body).toBe(first.body);
        expect(again.headers['idempotent-replayed']).toBe('true');
        expect(again.headers['x-charge-id']).toBe('ch_1');
        expect(again.headers['content-type']).toBe(first.headers['content-type']);
        expect(again.headers['set-cookie']).toBeUndefined();
        expect(again.headers['x-request-id']).toBe('retry-1');
        expect(first.headers['idempotent-replayed']).toBeUndefined();
        expect(lifeline.snapshot().idempotency).toMatchObject({ executed: 1, replayed: 1 });
      });

      it('answers 422 when the key is reused with a different payload', async () => {
        const { url, state } = await start();
        const key = randomUUID();
        expect((await post(url, key, 100)).status).toBe(201);
        const reused = await post(url, key, 999);
        expect(reused.status).toBe(422);
        expect(JSON.parse(reused.body)).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED', status: 422 });
        expect(state.runs).toBe(1);
      });

      it('answers 400 for a missing key on a required route, and runs keyless requests on an optional one', async () => {
        const { url, state } = await start();
        const missing = await post(url, undefined, 100, {}, '/required');
        expect(missing.status).toBe(400);
        expect(JSON.parse(missing.body)).toMatchObject({ code: 'IDEMPOTENCY_KEY_MISSING', detail: 'This request requires an Idempotency-Key header.' });
        expect(state.runs).toBe(0);
        await post(url, undefined, 100);
        await post(url, undefined, 100);
        expect(state.runs).toBe(2);
      });

      it('answers 400 naming the problem for a malformed key', async () => {
        const { url, state } = await start();
        const spaced = await post(url, 'two words', 100);
        expect(spaced.status).toBe(400);
        expect(JSON.parse(spaced.body)).toMatchObject({ code: 'IDEMPOTENCY_KEY_INVALID', detail: 'Idempotency-Key must be printable ASCII without spaces (or a quoted string).' });
        const long = await post(url, 'k'.repeat(300), 100);
        expect(JSON.parse(long.body).detail).toBe('Idempotency-Key must be at most 255 characters.');
        expect(state.runs).toBe(0);
      });

      it('scopes keys by caller: the same key from two callers runs twice', async () => {
        const { url, state } = await start();
        const key = randomUUID();
        const alice = await post(url, key, 100, { 'x-caller': 'alice' });
        const bob = await post(url, key, 100, { 'x-caller': 'bob' });
        expect(state.runs).toBe(2);
        expect(JSON.parse(alice.body).id).toBe('ch_1');
        expect(JSON.parse(bob.body).id).toBe('ch_2');
        const aliceAgain = await post(url, key, 100, { 'x-caller': 'alice' });
        expect([aliceAgain.headers['idempotent-replayed'], JSON.parse(aliceAgain.body).id]).toEqual(['true', 'ch_1']);
        expect(state.runs).toBe(2);
      });

      it('releases the key when the handler throws, so the retry runs again', async () => {
        const { url, state } = await start();
        const key = randomUUID();
        const failed = await post(url, key, 100, { 'x-mode': 'throw-first' });
        expect(failed.status).toBe(500);
        expect(failed.body).not.toContain('do not show this');
        const retried = await post(url, key, 100, { 'x-mode': 'throw-first' });
        expect(retried.status).toBe(201);
        expect(retried.headers['idempotent-replayed']).toBeUndefined();
        expect(state.runs).toBe(2);
      });

      it('releases the key when the handler answers 5xx', async () => {
        const { url, state } = await start();
        const key = randomUUID();
        expect((await post(url, key, 100, { 'x-mode': 'fail-first' })).status).toBe(503);
        const retried = await post(url, key, 100, { 'x-mode': 'fail-first' });
        expect(retried.status).toBe(201);
        expect(state.runs).toBe(2);
      });

      it('replays, never re-runs, when the response was lost on the wire after the handler ran', async () => {
        const { url, state } = await start();
        const key = randomUUID();
        await expect(post(url, key, 100, { 'x-mode': 'lose' })).rejects.toThrow();
        expect(state.runs).toBe(1);
        const retried = await post(url, key, 100);
        expect(retried.status).toBe(201);
        expect(retried.headers['idempotent-replayed']).toBe('true');
        expect(JSON.parse(retried.body)).toEqual({ id: 'ch_1', amount: 100 });
        expect(state.runs).toBe(1);
      });

      it('replays when the client gave up before the handler finished', async () => {
        const { url, state } = await start();
        const key = randomUUID();
        const body = JSON.stringify({ amount: 100 });
        const headers = { 'content-type': 'application/json', 'idempotency-key': key, 'x-mode': 'slow' };
        await expect(send(url, { method: 'POST', path: '/charges', headers, body, timeoutMs: 100 })).rejects.toThrow();
        // While the abandoned request still runs, a retry is told to wait, not run it again.
        const early = await post(url, key, 100);
        expect(early.status).toBe(409);
        await waitFor(() => state.runs === 1, 5_000, 'the first run');
        let retried: Reply | undefined;
        const deadline = Date.now() + 5_000;
        while (Date.now() < deadline) {
          retried = await post(url, key, 100);
          if (retried.status !== 409) break;
          await sleep(50);
        }
        expect(retried?.status).toBe(201);
        expect(retried?.headers['idempotent-replayed']).toBe('true');
        expect(state.runs).toBe(1);
      });
    });
  }
}

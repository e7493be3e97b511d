import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock, sleep } from '@lifeline/core';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  MemoryIdempotencyStore,
  SqliteIdempotencyStore,
  type IdempotencyStore,
  type StoredResponse,
} from '../src/index.ts';
import { RedisIdempotencyStore } from '../src/redis.ts';
import { startRedis, type RedisServer } from '../../bulkhead/test/redis-server.ts';

interface Harness {
  /** The store under test. */
  a: IdempotencyStore;
  /** A second handle on the same data (another connection / file handle), or `a` itself. */
  b: IdempotencyStore;
  /** Moves time forward by at least `ms`. */
  elapse(ms: number): Promise<void>;
  lockMs: number;
  ttlMs: number;
  dispose(): Promise<void>;
}

const response: StoredResponse = {
  status: 201,
  headers: { 'content-type': 'application/json', 'set-cookie': ['a=1', 'b=2'] },
  body: new Uint8Array([0, 1, 2, 255, 0x0d, 0x0a, 0, 128, 7]),
};

function storeSuite(name: string, setup: () => Promise<Harness>): void {
  describe(`${name} idempotency store`, () => {
    let h: Harness;
    let scope: string;
    beforeEach(async () => {
      h = await setup();
      scope = `s-${randomUUID()}`;
    });
    afterEach(async () => {
      await h.dispose();
    });
    const opts = (): { lockMs: number; ttlMs: number } => ({ lockMs: h.lockMs, ttlMs: h.ttlMs });

    it('starts, then replays the completed response byte for byte', async () => {
      const first = await h.a.begin(scope, 'k1', 'fp', opts());
      expect(first.state).toBe('started');
      if (first.state !== 'started') return;
      await h.a.complete(scope, 'k1', first.token, response, h.ttlMs);
      const replay = await h.b.begin(scope, 'k1', 'fp', opts());
      expect(replay.state).toBe('completed');
      if (replay.state !== 'completed') return;
      expect(replay.response.status).toBe(201);
      expect(replay.response.headers).toEqual(response.headers);
      expect(Array.from(replay.response.body)).toEqual(Array.from(response.body));
      expect(replay.response.body).toBeInstanceOf(Uint8Array);
    });

    it('stores an empty body', async () => {
      const first = await h.a.begin(scope, 'empty', 'fp', opts());
      if (first.state !== 'started') throw new Error(first.state);
      await h.a.complete(scope, 'empty', first.token, { status: 204, headers: {}, body: new Uint8Array(0) }, h.ttlMs);
      const replay = await h.a.begin(scope, 'empty', 'fp', opts());
      expect(replay).toMatchObject({ state: 'completed', response: { status: 204, headers: {} } });
      if (replay.state === 'completed') expect(replay.response.body.byteLength).toBe(0);
    });

    it('reports in-flight while the owner runs', async () => {
      expect((await h.a.begin(scope, 'k', 'fp', opts())).state).toBe('started');
      expect(await h.b.begin(scope, 'k', 'fp', opts())).toEqual({ state: 'in-flight' });
    });

    it('reports a mismatch for another fingerprint, in flight or completed', async () => {
      const first = await h.a.begin(scope, 'k', 'fp-1', opts());
      expect(await h.b.begin(scope, 'k', 'fp-2', opts())).toEqual({ state: 'mismatch' });
      if (first.state !== 'started') throw new Error(first.state);
      await h.a.complete(scope, 'k', first.token, response, h.ttlMs);
      expect(await h.b.begin(scope, 'k', 'fp-2', opts())).toEqual({ state: 'mismatch' });
      expect((await h.b.begin(scope, 'k', 'fp-1', opts())).state).toBe('completed');
    });

    it('lets the next request run after release', async () => {
      const first = await h.a.begin(scope, 'k', 'fp', opts());
      if (first.state !== 'started') throw new Error(first.state);
      await h.a.release(scope, 'k', first.token);
      const second = await h.b.begin(scope, 'k', 'fp', opts());
      expect(second.state).toBe('started');
      if (second.state === 'started') expect(second.token).not.toBe(first.token);
    });

    it('ignores complete and release with a wrong token', async () => {
      const first = await h.a.begin(scope, 'k', 'fp', opts());
      if (first.state !== 'started') throw new Error(first.state);
      await h.b.complete(scope, 'k', 'not-the-token', response, h.ttlMs);
      await h.b.release(scope, 'k', 'not-the-token');
      expect(await h.b.begin(scope, 'k', 'fp', opts())).toEqual({ state: 'in-flight' });
      await h.a.complete(scope, 'k', first.token, { ...response, status: 200 }, h.ttlMs);
      const replay = await h.b.begin(scope, 'k', 'fp', opts());
      expect(replay).toMatchObject({ state: 'completed', response: { status: 200 } });
    });

    it('lets a stale owner neither complete nor release after its claim expired and was retaken', async () => {
      const first = await h.a.begin(scope, 'k', 'fp', opts());
      if (first.state !== 'started') throw new Error(first.state);
      await h.elapse(h.lockMs);
      const second = await h.b.begin(scope, 'k', 'fp', opts());
      if (second.state !== 'started') throw new Error(second.state);
      await h.a.complete(scope, 'k', first.token, response, h.ttlMs);
      await h.a.release(scope, 'k', first.token);
      expect(await h.a.begin(scope, 'k', 'fp', opts())).toEqual({ state: 'in-flight' });
    });

    it('expires the in-flight claim after lockMs', async () => {
      expect((await h.a.begin(scope, 'k', 'fp', opts())).state).toBe('started');
      expect((await h.b.begin(scope, 'k', 'fp', opts())).state).toBe('in-flight');
      await h.elapse(h.lockMs);
      expect((await h.b.begin(scope, 'k', 'fp', opts())).state).toBe('started');
    });

    it('forgets a completed response after ttlMs', async () => {
      const first = await h.a.begin(scope, 'k', 'fp', opts());
      if (first.state !== 'started') throw new Error(first.state);
      await h.a.complete(scope, 'k', first.token, response, h.ttlMs);
      expect((await h.b.begin(scope, 'k', 'other', opts())).state).toBe('mismatch');
      await h.elapse(h.ttlMs);
      expect((await h.b.begin(scope, 'k', 'other', opts())).state).toBe('started');
    });

    it('isolates scopes', async () => {
      expect((await h.a.begin(scope, 'k', 'fp', opts())).state).toBe('started');
      expect((await h.b.begin(`${scope}-2`, 'k', 'other', opts())).state).toBe('started');
      expect((await h.b.begin(`${scope}:k`, '', 'fp', opts())).state).toBe('started');
      expect((await h.b.begin(scope, 'k:', 'fp', opts())).state).toBe('started');
    });

    it('grants exactly one of 50 concurrent begins with one key', async () => {
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? h.a : h.b).begin(scope, 'race', 'fp', opts())),
      );
      expect(results.filter((r) => r.state === 'started')).toHaveLength(1);
      expect(results.filter((r) => r.state === 'in-flight')).toHaveLength(49);
    });

    it('rejects bad options', async () => {
      await expect(h.a.begin(scope, 'k', 'fp', { lockMs: 0, ttlMs: 1_000 })).rejects.toThrow(
        'lifeline: option `idempotency.lockMs` must be >= 1, got 0',
      );
      await expect(h.a.begin(scope, 'k', 'fp', { lockMs: 1_000, ttlMs: Number.NaN })).rejects.toThrow(
        'lifeline: option `idempotency.ttlMs` must be a number, got NaN',
      );
      await expect(h.a.complete(scope, 'k', 't', response, 1.5)).rejects.toThrow('lifeline: option `idempotency.ttlMs` must be an integer');
    });
  });
}

storeSuite('memory', () => {
  const clock = new ManualClock(1_000);
  const store = new MemoryIdempotencyStore({ clock });
  return Promise.resolve({
    a: store,
    b: store,
    elapse: (ms) => {
      clock.advance(ms);
      return Promise.resolve();
    },
    lockMs: 5_000,
    ttlMs: 60_000,
    dispose: () => store.close(),
  });
});

storeSuite('sqlite', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lifeline-idem-'));
  const path = join(dir, 'idempotency.db');
  const clock = new ManualClock(1_700_000_000_000);
  const a = new SqliteIdempotencyStore({ path, clock });
  const b = new SqliteIdempotencyStore({ path, clock });
  return Promise.resolve({
    a,
    b,
    elapse: (ms) => {
      clock.advance(ms);
      return Promise.resolve();
    },
    lockMs: 5_000,
    ttlMs: 60_000,
    dispose: async () => {
      await a.close();
      await b.close();
      rmSync(dir, { recursive: true, force: true });
    },
  });
});

let server: RedisServer;
describe('redis', () => {
  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(async () => {
    await server.stop();
  });

  async function connect(): Promise<Redis> {
    const client = new Redis({ port: server.port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
    await new Promise((resolve) => client.once('ready', resolve));
    return client;
  }

  storeSuite('redis', async () => {
    const [one, two] = [await connect(), await connect()];
    return {
      a: new RedisIdempotencyStore({ redis: one }),
      b: new RedisIdempotencyStore({ redis: two }),
      elapse: (ms) => sleep(ms + 30),
      lockMs: 200,
      ttlMs: 300,
      dispose: () => {
        one.disconnect();
        two.disconnect();
        return Promise.resolve();
      },
    };
  });

  it('uses the prefix for its keys and rejects a non-client', async () => {
    const redis = await connect();
    try {
      const store = new RedisIdempotencyStore({ redis, prefix: 'orders:idem:' });
      await store.begin('acct', 'k', 'fp', { lockMs: 1_000, ttlMs: 1_000 });
      expect(await redis.keys('orders:idem:*')).toEqual(['orders:idem:4:acct:k']);
      expect(await redis.pttl('orders:idem:4:acct:k')).toBeGreaterThan(0);
      expect(() => new RedisIdempotencyStore({ redis: {} as Redis })).toThrow('lifeline: option `idempotency.redis` must be an ioredis client');
      expect(() => new RedisIdempotencyStore({ redis, prefix: '' })).toThrow('lifeline: option `idempotency.prefix` must be a non-empty string');
    } finally {
      redis.disconnect();
    }
  });
});

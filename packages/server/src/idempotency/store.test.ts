import { ManualClock } from '@lifeline/core';
import { describe, expect, it } from 'vitest';
import { MemoryIdempotencyStore, type StoredResponse } from './store.ts';

const opts = { lockMs: 1_000, ttlMs: 10_000 };
const response: StoredResponse = { status: 200, headers: {}, body: new Uint8Array([1]) };

async function completeKey(store: MemoryIdempotencyStore, key: string): Promise<void> {
  const begun = await store.begin('s', key, 'fp', opts);
  if (begun.state !== 'started') throw new Error(begun.state);
  await store.complete('s', key, begun.token, response, opts.ttlMs);
}

describe('MemoryIdempotencyStore', () => {
  it('never holds more than maxEntries, evicting the least recently used completed entry first', async () => {
    const store = new MemoryIdempotencyStore({ maxEntries: 3, clock: new ManualClock() });
    await completeKey(store, 'a');
    await completeKey(store, 'b');
    expect((await store.begin('s', 'running', 'fp', opts)).state).toBe('started');
    expect((await store.begin('s', 'a', 'fp', opts)).state).toBe('completed'); // a is now more recent than b
    await completeKey(store, 'c');
    expect(store.size).toBe(3);
    expect((await store.begin('s', 'running', 'fp', opts)).state).toBe('in-flight');
    expect((await store.begin('s', 'a', 'fp', opts)).state).toBe('completed');
    expect((await store.begin('s', 'c', 'fp', opts)).state).toBe('completed');
    expect(store.size).toBe(3);
    expect((await store.begin('s', 'b', 'other', opts)).state).toBe('started'); // b was evicted
    expect(store.size).toBe(3);
  });

  it('evicts the oldest in-flight claims when nothing is completed', async () => {
    const store = new MemoryIdempotencyStore({ maxEntries: 100, clock: new ManualClock() });
    for (let i = 0; i < 1_000; i++) await store.begin('s', `k${i}`, 'fp', opts);
    expect(store.size).toBe(100);
    expect((await store.begin('s', 'k999', 'fp', opts)).state).toBe('in-flight');
    expect((await store.begin('s', 'k0', 'fp', opts)).state).toBe('started');
  });

  it('stays bounded under random use', async () => {
    const clock = new ManualClock();
    const store = new MemoryIdempotencyStore({ maxEntries: 50, clock });
    for (let i = 0; i < 2_000; i++) {
      const key = `k${Math.floor(Math.random() * 200)}`;
      const begun = await store.begin('s', key, 'fp', opts);
      if (begun.state === 'started' && i % 3 !== 0) await store.complete('s', key, begun.token, response, opts.ttlMs);
      clock.advance(7);
      expect(store.size).toBeLessThanOrEqual(50);
    }
  });

  it('keeps its own copy of the response', async () => {
    const store = new MemoryIdempotencyStore();
    const begun = await store.begin('s', 'k', 'fp', opts);
    if (begun.state !== 'started') throw new Error(begun.state);
    const mine: StoredResponse = { status: 200, headers: { a: ['1'] }, body: new Uint8Array([1, 2]) };
    await store.complete('s', 'k', begun.token, mine, opts.ttlMs);
    mine.body[0] = 9;
    (mine.headers.a as string[]).push('2');
    const replay = await store.begin('s', 'k', 'fp', opts);
    expect(replay).toEqual({ state: 'completed', response: { status: 200, headers: { a: ['1'] }, body: new Uint8Array([1, 2]) } });
  });

  it('rejects bad configuration and responses', async () => {
    expect(() => new MemoryIdempotencyStore({ maxEntries: 0 })).toThrow('lifeline: option `idempotency.maxEntries` must be >= 1, got 0');
    expect(() => new MemoryIdempotencyStore({ maxEntries: 1.5 })).toThrow('lifeline: option `idempotency.maxEntries` must be an integer');
    const store = new MemoryIdempotencyStore();
    const begun = await store.begin('s', 'k', 'fp', opts);
    if (begun.state !== 'started') throw new Error(begun.state);
    await expect(store.complete('s', 'k', begun.token, { status: 42, headers: {}, body: new Uint8Array() }, 1_000)).rejects.toThrow(
      'status must be an integer between 100 and 999',
    );
    await expect(store.complete('s', 'k', begun.token, { status: 200, headers: {}, body: 'x' as unknown as Uint8Array }, 1_000)).rejects.toThrow(
      'body must be a Uint8Array',
    );
  });
});

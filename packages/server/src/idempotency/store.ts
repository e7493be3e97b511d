import { randomUUID } from 'node:crypto';
import { checkInteger, checkObject, systemClock, type Clock } from '@lifeline/core';

/** A response kept for replay. */
export interface StoredResponse {
  status: number;
  headers: Record<string, string | string[]>;
  body: Uint8Array;
}

/** What {@link IdempotencyStore.begin} found for a key. */
export type BeginResult =
  /** This caller owns the key: run the handler, then `complete` or `release` with the token. */
  | { state: 'started'; token: string }
  /** Another request with this key is running: answer 409. */
  | { state: 'in-flight' }
  /** The key already has a response: replay it. */
  | { state: 'completed'; response: StoredResponse }
  /** The key was used for a different request (fingerprint): answer 422. */
  | { state: 'mismatch' };

/** Options of {@link IdempotencyStore.begin}. */
export interface BeginOptions {
  /** How long the in-flight claim holds, ms: a crashed process never locks a key for longer. */
  lockMs: number;
  /** How long a completed response is kept for replay, ms. */
  ttlMs: number;
}

/**
 * Where Idempotency-Key claims and responses live. Keys are namespaced by `scope` (a tenant,
 * a route, an API key): the same key in two scopes is two entries. A key reused with a
 * different fingerprint is reported as `mismatch`, whether it is in flight or completed.
 *
 * @example
 * const result = await store.begin('acct_1', key, fp, { lockMs: 30_000, ttlMs: 86_400_000 });
 * if (result.state === 'started') {
 *   try { await store.complete('acct_1', key, result.token, await run(), 86_400_000); }
 *   catch (error) { await store.release('acct_1', key, result.token); throw error; }
 * }
 */
export interface IdempotencyStore {
  /** Atomically claims (scope,key) with fingerprint, or reports its state. The in-flight claim expires after lockMs (a crashed process never locks a key forever). */
  begin(scope: string, key: string, fingerprint: string, options: BeginOptions): Promise<BeginResult>;
  /** Stores the response for replay until ttlMs; only the owner (token) may complete. */
  complete(scope: string, key: string, token: string, response: StoredResponse, ttlMs: number): Promise<void>;
  /** Drops the claim without a response (the handler threw / the client went away before a response was committed): the next request with the key runs again. */
  release(scope: string, key: string, token: string): Promise<void>;
  close(): Promise<void>;
}

/** @internal Validates `begin`'s options; both are whole milliseconds >= 1. */
export function checkBeginOptions(options: BeginOptions): BeginOptions {
  checkObject('idempotency', options);
  return {
    lockMs: checkInteger('idempotency.lockMs', options?.lockMs, 1),
    ttlMs: checkInteger('idempotency.ttlMs', options?.ttlMs, 1),
  };
}

/** @internal A copy of a response, so a caller mutating its own objects never changes the stored one. */
export function copyResponse(response: StoredResponse): StoredResponse {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(response.headers)) headers[name] = Array.isArray(value) ? [...value] : value;
  return { status: response.status, headers, body: Uint8Array.from(response.body) };
}

/** @internal Rejects a response that cannot be stored and replayed. */
export function checkResponse(response: StoredResponse): void {
  if (response === null || typeof response !== 'object') throw new TypeError('lifeline: idempotency response must be an object');
  if (!Number.isInteger(response.status) || response.status < 100 || response.status > 999) {
    throw new RangeError(`lifeline: idempotency response status must be an integer between 100 and 999, got ${String(response.status)}`);
  }
  if (!(response.body instanceof Uint8Array)) throw new TypeError('lifeline: idempotency response body must be a Uint8Array');
}

/** @internal Runs synchronous store work as a promise: a thrown error becomes a rejection. */
export function settle<T>(work: () => T): Promise<T> {
  try {
    return Promise.resolve(work());
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
}

/** Options of {@link MemoryIdempotencyStore}. */
export interface MemoryIdempotencyStoreOptions {
  /** The most keys held (in flight and completed together); least recently used completed ones go first. Default 10 000. */
  maxEntries?: number;
  /** Time source; default the process clock. */
  clock?: Clock;
}

interface Entry {
  fingerprint: string;
  token: string;
  /** In flight: when the claim lapses. Completed: when the response is forgotten. */
  until: number;
  response?: StoredResponse;
}

function entryKey(scope: string, key: string): string {
  return `${scope.length}:${scope}:${key}`;
}

/**
 * An {@link IdempotencyStore} in this process's memory: for a single instance, or tests.
 * Bounded (`maxEntries`) with least-recently-used eviction of completed responses first,
 * then of the oldest in-flight claims; expired entries are dropped when next touched.
 *
 * @example
 * const store = new MemoryIdempotencyStore({ maxEntries: 50_000 });
 */
export class MemoryIdempotencyStore implements IdempotencyStore {
  readonly maxEntries: number;
  readonly #clock: Clock;
  /** Both Maps are in least-recently-used order (a touched entry is re-inserted at the end). */
  readonly #inFlight = new Map<string, Entry>();
  readonly #completed = new Map<string, Entry>();

  constructor(options: MemoryIdempotencyStoreOptions = {}) {
    checkObject('idempotency', options);
    this.maxEntries = checkInteger('idempotency.maxEntries', options.maxEntries ?? 10_000, 1);
    this.#clock = options.clock ?? systemClock;
  }

  /** Keys held now, in flight and completed (expired ones not yet dropped included). */
  get size(): number {
    return this.#inFlight.size + this.#completed.size;
  }

  begin(scope: string, key: string, fingerprint: string, options: BeginOptions): Promise<BeginResult> {
    return settle(() => this.#begin(scope, key, fingerprint, options));
  }

  complete(scope: string, key: string, token: string, response: StoredResponse, ttlMs: number): Promise<void> {
    return settle(() => this.#complete(scope, key, token, response, ttlMs));
  }

  release(scope: string, key: string, token: string): Promise<void> {
    return settle(() => this.#release(scope, key, token));
  }

  close(): Promise<void> {
    this.#inFlight.clear();
    this.#completed.clear();
    return Promise.resolve();
  }

  #begin(scope: string, key: string, fingerprint: string, options: BeginOptions): BeginResult {
    const { lockMs } = checkBeginOptions(options);
    const id = entryKey(scope, key);
    const now = this.#clock.now();
    const completed = this.#completed.get(id);
    if (completed !== undefined) {
      if (completed.until > now) {
        if (completed.fingerprint !== fingerprint) return { state: 'mismatch' };
        this.#completed.delete(id);
        this.#completed.set(id, completed);
        return { state: 'completed', response: copyResponse(completed.response!) };
      }
      this.#completed.delete(id);
    }
    const running = this.#inFlight.get(id);
    if (running !== undefined) {
      if (running.until > now) {
        return running.fingerprint === fingerprint ? { state: 'in-flight' } : { state: 'mismatch' };
      }
      this.#inFlight.delete(id);
    }
    const token = randomUUID();
    this.#inFlight.set(id, { fingerprint, token, until: now + lockMs });
    this.#evict();
    return { state: 'started', token };
  }

  #complete(scope: string, key: string, token: string, response: StoredResponse, ttlMs: number): void {
    checkInteger('idempotency.ttlMs', ttlMs, 1);
    checkResponse(response);
    const id = entryKey(scope, key);
    const entry = this.#inFlight.get(id);
    if (entry === undefined || entry.token !== token) return;
    this.#inFlight.delete(id);
    this.#completed.set(id, { fingerprint: entry.fingerprint, token, until: this.#clock.now() + ttlMs, response: copyResponse(response) });
  }

  #release(scope: string, key: string, token: string): void {
    const id = entryKey(scope, key);
    if (this.#inFlight.get(id)?.token === token) this.#inFlight.delete(id);
  }

  #evict(): void {
    while (this.size > this.maxEntries) {
      const victims = this.#completed.size > 0 ? this.#completed : this.#inFlight;
      const oldest = victims.keys().next();
      if (oldest.done === true) return;
      victims.delete(oldest.value);
    }
  }
}

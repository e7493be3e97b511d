import { randomUUID } from 'node:crypto';
import { checkInteger, checkObject, checkString } from '@lifeline/core';
import type { Redis } from 'ioredis';
import {
  checkBeginOptions,
  checkResponse,
  type BeginOptions,
  type BeginResult,
  type IdempotencyStore,
  type StoredResponse,
} from './store.ts';

/**
 * Claims the key or reports its state. KEYS[1] the key's hash; ARGV: fingerprint, token, lockMs.
 * Returns {'started'}, {'mismatch'}, {'in-flight'} or {'completed', status, headers, body}.
 */
const BEGIN = `
local found = redis.call('HMGET', KEYS[1], 'fp', 'state')
if not found[1] then
  redis.call('HSET', KEYS[1], 'fp', ARGV[1], 'state', 'in-flight', 'token', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return {'started'}
end
if found[1] ~= ARGV[1] then return {'mismatch'} end
if found[2] ~= 'completed' then return {'in-flight'} end
local response = redis.call('HMGET', KEYS[1], 'status', 'headers', 'body')
return {'completed', response[1], response[2], response[3]}
`;

/** Stores the response if the token still owns the key. KEYS[1]; ARGV: token, status, headers, body, ttlMs. */
const COMPLETE = `
local found = redis.call('HMGET', KEYS[1], 'token', 'state')
if found[1] ~= ARGV[1] or found[2] ~= 'in-flight' then return 0 end
redis.call('HSET', KEYS[1], 'state', 'completed', 'status', ARGV[2], 'headers', ARGV[3], 'body', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
`;

/** Drops the claim if the token still owns it. KEYS[1]; ARGV: token. */
const RELEASE = `
local found = redis.call('HMGET', KEYS[1], 'token', 'state')
if found[1] ~= ARGV[1] or found[2] ~= 'in-flight' then return 0 end
redis.call('DEL', KEYS[1])
return 1
`;

interface IdempotencyCommands {
  lifelineIdempotencyBeginBuffer(key: string, fingerprint: string, token: string, lockMs: number): Promise<Buffer[]>;
  lifelineIdempotencyComplete(key: string, token: string, status: number, headers: string, body: Buffer, ttlMs: number): Promise<number>;
  lifelineIdempotencyRelease(key: string, token: string): Promise<number>;
}

/** Options of {@link RedisIdempotencyStore}. */
export interface RedisIdempotencyStoreOptions {
  /** A connected ioredis client (it is not closed by `close()`). */
  redis: Redis;
  /** Prefix of every Redis key the store writes. Default `lifeline:idem:`. */
  prefix?: string;
}

/**
 * An {@link IdempotencyStore} in Redis, shared by every instance of a service. Each key is
 * one hash (fingerprint, state, owner token, response) claimed by a Lua script; it expires
 * `lockMs` after the claim while in flight and `ttlMs` after completion (Redis's own clock,
 * so the instances' clocks never have to agree). `complete` and `release` check the owner
 * token in Lua. Bodies are stored as raw bytes.
 *
 * @example
 * const redis = new Redis({ port: 6379, maxRetriesPerRequest: 1 });
 * const store = new RedisIdempotencyStore({ redis, prefix: 'orders:idem:' });
 */
export class RedisIdempotencyStore implements IdempotencyStore {
  readonly prefix: string;
  readonly #redis: IdempotencyCommands;

  constructor(options: RedisIdempotencyStoreOptions) {
    checkObject('idempotency', options);
    const redis = options?.redis;
    if (redis === undefined || redis === null || typeof redis.defineCommand !== 'function') {
      throw new TypeError('lifeline: option `idempotency.redis` must be an ioredis client');
    }
    this.prefix = options.prefix === undefined ? 'lifeline:idem:' : checkString('idempotency.prefix', options.prefix);
    redis.defineCommand('lifelineIdempotencyBegin', { numberOfKeys: 1, lua: BEGIN });
    redis.defineCommand('lifelineIdempotencyComplete', { numberOfKeys: 1, lua: COMPLETE });
    redis.defineCommand('lifelineIdempotencyRelease', { numberOfKeys: 1, lua: RELEASE });
    this.#redis = redis as unknown as IdempotencyCommands;
  }

  async begin(scope: string, key: string, fingerprint: string, options: BeginOptions): Promise<BeginResult> {
    const { lockMs } = checkBeginOptions(options);
    const token = randomUUID();
    const reply = await this.#redis.lifelineIdempotencyBeginBuffer(this.#key(scope, key), fingerprint, token, lockMs);
    const state = reply[0]?.toString();
    switch (state) {
      case 'started':
        return { state, token };
      case 'in-flight':
      case 'mismatch':
        return { state };
      case 'completed': {
        const [, status, headers, body] = reply;
        return {
          state,
          response: {
            status: Number(status?.toString() ?? 500),
            headers: JSON.parse(headers?.toString() ?? '{}') as Record<string, string | string[]>,
            body: body === undefined ? new Uint8Array(0) : new Uint8Array(body.buffer, body.byteOffset, body.byteLength),
          },
        };
      }
      default:
        throw new Error(`lifeline: unexpected reply from the idempotency script: ${String(state)}`);
    }
  }

  async complete(scope: string, key: string, token: string, response: StoredResponse, ttlMs: number): Promise<void> {
    checkInteger('idempotency.ttlMs', ttlMs, 1);
    checkResponse(response);
    const body = Buffer.from(response.body.buffer, response.body.byteOffset, response.body.byteLength);
    await this.#redis.lifelineIdempotencyComplete(this.#key(scope, key), token, response.status, JSON.stringify(response.headers), body, ttlMs);
  }

  async release(scope: string, key: string, token: string): Promise<void> {
    await this.#redis.lifelineIdempotencyRelease(this.#key(scope, key), token);
  }

  /** Nothing to release: the Redis client belongs to the caller. */
  close(): Promise<void> {
    return Promise.resolve();
  }

  #key(scope: string, key: string): string {
    return `${this.prefix}${scope.length}:${scope}:${key}`;
  }
}

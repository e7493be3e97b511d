/**
 * `@lifeline/server/redis`: the Idempotency-Key store over Redis, for a fleet. A separate entry
 * point so that `ioredis`, an optional peer dependency, is needed only by those who import it.
 */
export { RedisIdempotencyStore, type RedisIdempotencyStoreOptions } from './idempotency/redis-store.ts';

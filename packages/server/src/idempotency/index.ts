export { parseIdempotencyKey, fingerprint, MAX_IDEMPOTENCY_KEY_LENGTH, type ParsedIdempotencyKey } from './key.ts';
export {
  MemoryIdempotencyStore,
  type MemoryIdempotencyStoreOptions,
  type IdempotencyStore,
  type StoredResponse,
  type BeginResult,
  type BeginOptions,
} from './store.ts';
export { SqliteIdempotencyStore, type SqliteIdempotencyStoreOptions } from './sqlite-store.ts';

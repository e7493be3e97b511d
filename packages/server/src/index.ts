export { createLifeline, Lifeline } from './lifeline.ts';
export type { LifelineOptions, SheddingOptions, IdempotencyDefaults, LifelineState, LifelineSnapshot, IdempotencySnapshot } from './options.ts';
export { requestContext } from './inbound-request.ts';
export { resilienceSnapshot, resilienceHandler, type ResilienceSources, type ResilienceSnapshot, type Snapshotting } from './admin.ts';
export { currentRequestContext, type RequestContext } from '@lifeline/trace';
export {
  problemFor,
  problem,
  sendProblem,
  retryAfterSeconds,
  ProblemCode,
  type ProblemDetails,
  type ProblemResponse,
} from './problem.ts';
export type { HealthOptions, HealthResponse, ReadinessCheck } from './health.ts';
export type { ShutdownOptions, ShutdownReport, Deregistration, Closeable } from './shutdown.ts';
export type { IgnoredHeader } from './ignored-headers.ts';
export type { IdempotencyOptions } from './idempotency/guard.ts';
export type { NodeRequestHandler, NodeIdempotentHandler, NodeIdempotencyOptions } from './adapters/node.ts';
export {
  parseIdempotencyKey,
  fingerprint,
  MAX_IDEMPOTENCY_KEY_LENGTH,
  type ParsedIdempotencyKey,
  MemoryIdempotencyStore,
  type MemoryIdempotencyStoreOptions,
  type IdempotencyStore,
  type StoredResponse,
  type BeginResult,
  type BeginOptions,
  SqliteIdempotencyStore,
  type SqliteIdempotencyStoreOptions,
} from './idempotency/index.ts';

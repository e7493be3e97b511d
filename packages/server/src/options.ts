import { optionNames, type Logger } from '@lifeline/core';
import type { MeterProvider } from '@opentelemetry/api';
import type { HealthOptions } from './health.ts';
import type { IdempotencyStore } from './idempotency/store.ts';
import type { IgnoredHeader } from './ignored-headers.ts';
import type { ShutdownOptions } from './shutdown.ts';

/** Options of the inbound concurrency limit (load shedding). */
export interface SheddingOptions {
  /**
   * Requests handled at once. Default 256: far above what a healthy Node service holds (at
   * 50 ms a request that is 5 000 requests/s), low enough that an overloaded one answers 503
   * at once instead of queueing every socket until all of them time out.
   */
  maxConcurrent?: number;
  /** Requests waiting for a slot; beyond it they are shed. 0 sheds at once. Default 64: a burst of a quarter of the limit. */
  maxQueue?: number;
  /** Longest wait for a slot, ms; the request's own deadline may cut it shorter. Default 1 000. */
  queueTimeout?: number;
  /** The wait suggested to a shed caller (`Retry-After`, rounded up to whole seconds, at least 1), ms. Default 1 000. */
  retryAfterMs?: number;
}

/** @internal The names {@link SheddingOptions} allows. */
export const SHEDDING_OPTIONS = optionNames<SheddingOptions>({ maxConcurrent: true, maxQueue: true, queueTimeout: true, retryAfterMs: true });

/** Defaults for the routes that opt into Idempotency-Key handling. */
export interface IdempotencyDefaults {
  /** The store of every route that names none. Default a `MemoryIdempotencyStore`, closed at shutdown. */
  store?: IdempotencyStore;
  /** How long a completed response is kept for replay, ms. Default 24 h. */
  ttlMs?: number;
  /** How long an in-flight claim holds, ms. Default twice `timeout`, at least 60 s. */
  lockMs?: number;
}

/** @internal The names {@link IdempotencyDefaults} allows. */
export const IDEMPOTENCY_DEFAULTS = optionNames<IdempotencyDefaults>({ store: true, ttlMs: true, lockMs: true });

/** Options of {@link createLifeline}. */
export interface LifelineOptions {
  /**
   * The longest a request may take, ms: its deadline, and when its AbortSignal fires. An
   * inbound deadline header (`x-request-timeout-ms`, `grpc-timeout`,
   * `x-envoy-expected-rq-timeout-ms`) can only shorten it. `Infinity` leaves only the inbound
   * deadline. Default 30 000.
   */
  timeout?: number;
  /**
   * Whether inbound `traceparent`, `tracestate` and `baggage` are trusted. `false` at an
   * untrusted edge: every request starts a new trace, and inbound baggage is dropped.
   * Default `true`.
   */
  trustInbound?: boolean;
  /** The inbound concurrency limit, or `false` for none. */
  shedding?: SheddingOptions | false;
  /** The liveness and readiness endpoints, or `false` for none. */
  health?: HealthOptions | false;
  /** The graceful shutdown. */
  shutdown?: ShutdownOptions;
  /** Defaults for routes with Idempotency-Key handling. */
  idempotency?: IdempotencyDefaults;
  /** Where state changes are logged (pino or anything with `info` and `warn`). Never a line per request. */
  logger?: Logger;
  /**
   * Where the server's metrics go (`http.server.request.duration`, rejections, idempotency
   * outcomes, in-flight and shutdown-phase gauges). Default: the global meter provider, looked
   * up when the Lifeline is created — register the OpenTelemetry SDK first. Without one, nothing
   * is recorded and nothing is paid per request.
   */
  meterProvider?: MeterProvider;
}

/** @internal The names {@link LifelineOptions} allows. */
export const LIFELINE_OPTIONS = optionNames<LifelineOptions>({
  timeout: true,
  trustInbound: true,
  shedding: true,
  health: true,
  shutdown: true,
  idempotency: true,
  logger: true,
  meterProvider: true,
});

/** Where a Lifeline is in its life. */
export type LifelineState = 'serving' | 'stopping' | 'draining' | 'stopped';

/** What a Lifeline has seen, as plain JSON. */
export interface LifelineSnapshot {
  state: LifelineState;
  requests: {
    /** Requests seen since start (health probes excluded). */
    total: number;
    /** Requests whose response is not over yet, queued ones included. */
    inFlight: number;
  };
  /** The concurrency limit, or `null` when shedding is off. */
  shedding: {
    maxConcurrent: number;
    maxQueue: number;
    /** Requests holding a slot. */
    active: number;
    /** Requests waiting for one. */
    queued: number;
    /** Requests answered 503 before any work, by reason. */
    shed: { queueFull: number; queueTimeout: number; deadline: number };
    /** Queued requests whose client went away. */
    abandoned: number;
  } | null;
  /** Requests refused before any work for another reason than load. */
  refused: {
    /** Arrived while draining: 503 with `connection: close`. */
    shuttingDown: number;
    /** Arrived with an inbound deadline already spent: 504. */
    deadlineSpent: number;
  };
  /** Malformed inbound headers that were ignored, by name. */
  ignoredHeaders: Record<IgnoredHeader, number>;
  idempotency: IdempotencySnapshot;
}

/** Idempotency counters, as plain JSON. */
export interface IdempotencySnapshot {
  /** Requests that claimed a key and ran. */
  executed: number;
  /** Duplicates answered with the stored response. */
  replayed: number;
  /** Duplicates answered 409 because the first was still running. */
  inFlight: number;
  /** Keys reused with a different request, answered 422. */
  mismatched: number;
  /** Requests refused for a missing key on a route that requires one. */
  missingKey: number;
  /** Requests refused for a malformed key. */
  invalidKey: number;
  /** Claims released so that a retry runs again (the handler threw or answered 5xx). */
  released: number;
  /** Store calls that failed. */
  storeErrors: number;
}

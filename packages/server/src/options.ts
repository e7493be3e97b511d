import { optionNames, type Logger } from '@lifeline/core';
import type { MeterProvider } from '@opentelemetry/api';
import type { HealthOptions } from './health.ts';
import type { IdempotencyStore } from './idempotency/store.ts';
import type { IgnoredHeader } from './ignored-headers.ts';
import type { ShutdownOptions } from './shutdown.ts';

/** Options of the inbound concurrency limit (load shedding). */
export interface SheddingOptions {
  /**
   * A static limit: requests handled at once. Setting it turns the adaptive limit off (the two
   * cannot be combined). Without it the limit is adaptive (see `adaptive`).
   */
  maxConcurrent?: number;
  /**
   * The adaptive limit, the default: a limit that follows the latency of the server's own
   * requests (`AdaptiveLimiter` from @lifeline/bulkhead, Gradient2). It grows while requests
   * take as long as they usually do and shrinks when they take longer because more of them
   * run at once, and after windows in which a request outlived its deadline.
   */
  adaptive?: AdaptiveSheddingOptions;
  /** Requests waiting for a slot; beyond it they are shed. 0 sheds at once. Default 64. */
  maxQueue?: number;
  /** Longest wait for a slot, ms; the request's own deadline may cut it shorter. Default 1 000. */
  queueTimeout?: number;
  /** The wait suggested to a shed caller (`Retry-After`, rounded up to whole seconds, at least 1), ms. Default 1 000. */
  retryAfterMs?: number;
}

/** @internal The names {@link SheddingOptions} allows. */
export const SHEDDING_OPTIONS = optionNames<SheddingOptions>({ maxConcurrent: true, adaptive: true, maxQueue: true, queueTimeout: true, retryAfterMs: true });

/**
 * Tuning of the server's adaptive concurrency limit. The server's defaults differ from an
 * `AdaptiveLimiter`'s where a server needs it: it starts at 100 so that a server that has
 * measured nothing yet admits a burst, its ceiling is 256 (the static limit's old default),
 * and its windows last at least 100 ms so that overload shrinks the limit within a second or
 * two.
 */
export interface AdaptiveSheddingOptions {
  /** The limit before anything is measured. Default 100. */
  initialLimit?: number;
  /** The lowest the limit goes. Default 20, or `initialLimit` when that is lower. */
  minLimit?: number;
  /** The highest the limit goes. Default 256, or `initialLimit` when that is higher. */
  maxLimit?: number;
  /** How much of each new estimate the limit takes, in (0, 1]. Default 0.2. */
  smoothing?: number;
  /** How far latency may rise over its long-term average before the limit shrinks (≥ 1). Default 1.5. */
  rttTolerance?: number;
  /** Samples (one per window) in the long-term latency average. Default 600. */
  longWindow?: number;
  /** The shortest window, ms (a window also holds at least `max(10, limit)` requests). Default 100. */
  minWindowMs?: number;
  /** What the limit is multiplied by after a window in which a request outlived its deadline, in (0, 1). Default 0.9. */
  backoffRatio?: number;
}

/** @internal The names {@link AdaptiveSheddingOptions} allows. */
export const ADAPTIVE_SHEDDING_OPTIONS = optionNames<AdaptiveSheddingOptions>({
  initialLimit: true,
  minLimit: true,
  maxLimit: true,
  smoothing: true,
  rttTolerance: true,
  longWindow: true,
  minWindowMs: true,
  backoffRatio: true,
});

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
    /** Requests handled at once: the static limit, or the adaptive limit's current value. */
    maxConcurrent: number;
    maxQueue: number;
    /** The adaptive limit's bounds and the latencies it follows, or `null` for a static limit. */
    adaptive: {
      minLimit: number;
      maxLimit: number;
      /** Mean time a request held its slot over the last window, ms (0 before the first). */
      rttMs: number;
      /** The long-term average of those: the latency the limit treats as normal, ms. */
      longRttMs: number;
    } | null;
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

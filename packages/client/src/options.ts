import { checkDuration, optionNames, type Clock, type Deadline, type Logger, type Priority } from '@lifeline/core';
import type { AdaptiveThrottle, AdaptiveThrottleOptions, Breaker, CircuitBreakerOptions } from '@lifeline/breaker';
import type { BulkheadOptions, Limiter } from '@lifeline/bulkhead';
import type { Discovery } from '@lifeline/discovery';
import type { RetryPolicy, RetryPolicyOptions } from '@lifeline/retry';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { TelemetryOptions } from './telemetry.ts';

export type { Logger } from '@lifeline/core';

/**
 * The options of the one outgoing pipeline, {@link lifeline}: the same for the client, the
 * interceptor and the dispatcher. Spans and metrics go to the global OpenTelemetry
 * providers, or to `tracerProvider` / `meterProvider` when given.
 */
export interface LifelineOptions extends TelemetryOptions {
  /**
   * The dependency's name, as errors, logs and metrics call it (`payment`). Default: `service`
   * with discovery, else the base URL's host (`payment:8080`), else `http`.
   */
  name?: string;
  /**
   * The dependency's origin, optionally with a path prefix: `http://payment:8080/v1`. Either
   * this, or `service` and `discovery`. The client needs one of them; an interceptor without
   * either serves any origin, with a breaker per origin. A request to another origin than
   * this one is refused (the prefix is the client's: an interceptor leaves paths as they are).
   */
  baseUrl?: string | URL;
  /**
   * The service to find through `discovery` (`payment`): each attempt picks one of its
   * live endpoints, a retry prefers another one, and a call fails with `NO_ENDPOINTS`
   * when there is none, or `CIRCUIT_OPEN` when every endpoint is failing. Through fetch,
   * the URL names the service (`http://payment/charges`) and its origin is replaced by the
   * picked endpoint's.
   */
  service?: string;
  /** Service discovery and load balancing, shared by the clients of a process. Not closed by `close()`. */
  discovery?: Discovery;
  /** Total deadline of a call, retries and body included, ms. Default 10 000. */
  timeout?: number;
  /** Limit on one attempt, until response headers, ms; never beyond the remaining deadline. Default 2 000. */
  attemptTimeout?: number;
  /** The retry policy, its options, or `false` for a single attempt. Default: 3 attempts, within a retry budget that bounds the fleet (20 % of requests, and a token bucket only successes refill: see @lifeline/retry). */
  retry?: RetryPolicy | RetryPolicyOptions | false;
  /**
   * The circuit breaker every attempt goes through: any `Breaker` (Lifeline's
   * `CircuitBreaker`, or an existing opossum breaker through `fromOpossum` from
   * `@lifeline/breaker/opossum`), a `CircuitBreaker`'s options, or `false`. Default:
   * opens at ≥ 50 % failures over ≥ 20 calls in 10 s or 5 in a row, half-open after 5 s with
   * 3 probes; 5xx, connection failures and timeouts are failures, and so is a response
   * slower than 0.8 × `attemptTimeout`. With `discovery`, each endpoint has a breaker of
   * its own, configured on the `Discovery`, and this option is refused.
   */
  breaker?: Breaker | CircuitBreakerOptions | false;
  /**
   * Client-side adaptive throttling (Google SRE, "Handling Overload"), or `false`. On by
   * default: over the last `windowMs` (5 000) the client counts the attempts it made
   * (`requests`, those it rejected itself included) and those the dependency accepted
   * (`accepts`), and rejects a new attempt locally, once its endpoint is picked (an open
   * breaker refuses first; a half-open breaker's probe is never throttled), with probability `max(0, (requests − k × accepts) / (requests + 1))`, `k` = 2, at most
   * `maxRejectionProbability` (0.9) — never while fewer than `minRequests` (10) were made in
   * the window. The cap sends at least a tenth of the attempts to a dependency that accepts
   * none, and is what brings traffic back about 1.65 windows (8–9 s) after it recovers;
   * uncapped (1), about one attempt per window gets through and recovery from a total outage
   * takes 4–5 windows. When its probes close a breaker the throttle forgets its window: the
   * outage it measured is over. A rejected attempt fails at once with `THROTTLED` (not
   * retried; a response an earlier attempt got wins over it).
   * Accepted: any response but 429, 502, 503 and 504 (a 500 is work the dependency took);
   * not accepted: those four, and a failure before a response (refused, reset, timed out).
   * With discovery the throttle is the service's, shared by its endpoints; an interceptor
   * that serves any origin has none unless given one. An `AdaptiveThrottle` of your own is
   * used as it is (to share one between clients of the same dependency).
   */
  throttle?: AdaptiveThrottle | Pick<AdaptiveThrottleOptions, 'k' | 'windowMs' | 'minRequests' | 'buckets' | 'maxRejectionProbability'> | false;
  /**
   * The limiter around whole calls to this dependency: any `Limiter` (a `Bulkhead`, a
   * `FleetBulkhead` shared by a fleet over Redis), a local bulkhead's options, or `false`.
   * Default: a bulkhead of 100 in flight, 200 waiting, a wait bounded by the call's deadline.
   */
  bulkhead?: Limiter | BulkheadOptions | false;
  /** Headers sent on every request (a request's own value for one wins). */
  headers?: Record<string, string>;
  /** A pino logger for state changes (retry budget exhausted, recovered). Never a line per request. */
  logger?: Logger;
  /** @internal For tests: the clock deadlines use. */
  clock?: Clock;
}

/** A client's options: the pipeline's, and the client's own pool and error mapping. */
export interface ClientOptions extends LifelineOptions {
  /** With `discovery`: a path prefix for every request (`/v1`). */
  basePath?: string;
  /** Throw `HTTP_STATUS` for a final status >= 400 instead of returning the response. Default true. */
  throwOnHttpError?: boolean;
  /** Connections in the pool (per endpoint with discovery). Default: unlimited. */
  connections?: number;
  /** HTTP/1.1 pipelining depth. Default 1. */
  pipelining?: number;
  /** Use this undici dispatcher instead of a pool of the client's own (it is not closed by `close()`). */
  dispatcher?: Dispatcher;
}

/** {@link createDispatcher}'s options: the pipeline's, and its pool's size. */
export interface DispatcherOptions extends LifelineOptions {
  /** Connections per origin. Default: unlimited. */
  connections?: number;
  /** HTTP/1.1 pipelining depth. Default 1. */
  pipelining?: number;
}

const PIPELINE_NAMES = {
  name: true,
  baseUrl: true,
  service: true,
  discovery: true,
  timeout: true,
  attemptTimeout: true,
  retry: true,
  breaker: true,
  bulkhead: true,
  throttle: true,
  headers: true,
  logger: true,
  clock: true,
  tracerProvider: true,
  meterProvider: true,
} as const;

/** @internal The names the `throttle` option accepts. */
export const THROTTLE_NAMES = optionNames<Exclude<LifelineOptions['throttle'], AdaptiveThrottle | false | undefined>>({
  k: true,
  windowMs: true,
  minRequests: true,
  buckets: true,
  maxRejectionProbability: true,
});

/** @internal The names each face accepts, for the did-you-mean message. */
export const OPTION_NAMES = {
  lifeline: optionNames<LifelineOptions>(PIPELINE_NAMES),
  client: optionNames<ClientOptions>({ ...PIPELINE_NAMES, basePath: true, throwOnHttpError: true, connections: true, pipelining: true, dispatcher: true }),
  dispatcher: optionNames<DispatcherOptions>({ ...PIPELINE_NAMES, connections: true, pipelining: true }),
} as const;

export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'OPTIONS' | 'QUERY';

export type QueryValue = string | number | boolean | undefined | readonly (string | number | boolean)[];

/** Options of one call: {@link LifelineClient.request}'s, and the verbs' (without `method` and `path`). */
export interface RequestOptions {
  method?: HttpMethod;
  /** Path after the base URL's prefix, starting with `/`. */
  path: string;
  query?: Record<string, QueryValue>;
  headers?: Record<string, string | string[] | undefined>;
  /** A string or bytes can be sent again on a retry; a stream cannot, so a call with one is never retried. */
  body?: string | Uint8Array | Readable | AsyncIterable<Uint8Array> | null;
  /** A value to send as JSON (sets content-type). */
  json?: unknown;
  /**
   * Marks a POST/PATCH as safe to retry: an Idempotency-Key is generated once for the call and
   * sent, identical, on every attempt. GET, HEAD, PUT, DELETE, OPTIONS are idempotent already.
   */
  idempotent?: boolean;
  /** Your own Idempotency-Key for this call (implies `idempotent`). */
  idempotencyKey?: string;
  /** Total deadline of this call, ms (overrides the client's). */
  timeout?: number;
  /** Per-attempt limit for this call, ms. */
  attemptTimeout?: number;
  /** An outer deadline (an inbound request's): the call uses the earlier of it and its timeout. */
  deadline?: Deadline;
  /** Cancels the call. */
  signal?: AbortSignal;
  /**
   * How much this call matters under overload, sent as `x-request-priority` and used by the
   * client's limiter queue: `critical`, `normal` or `sheddable`. Default: the inbound request's,
   * when the call is made while handling one.
   */
  priority?: Priority;
  throwOnHttpError?: boolean;
}

/** @internal The names {@link RequestOptions} allows, to look up per call (a null-prototype record: no `toString` or `__proto__` match). */
export const CALL_OPTIONS: Readonly<Record<string, true>> = Object.assign(
  Object.create(null) as Record<string, true>,
  {
    method: true,
    path: true,
    query: true,
    headers: true,
    body: true,
    json: true,
    idempotent: true,
    idempotencyKey: true,
    timeout: true,
    attemptTimeout: true,
    deadline: true,
    signal: true,
    priority: true,
    throwOnHttpError: true,
  } satisfies { [K in keyof Required<RequestOptions>]: true },
);

/** @internal The names of {@link CALL_OPTIONS}, for the did-you-mean message. */
export const CALL_OPTION_NAMES: readonly string[] = Object.freeze(Object.keys(CALL_OPTIONS));

/** @internal A per-call `priority`: one of the three, else a TypeError naming it. */
export function callPriority(value: unknown): Priority {
  if (value === 'critical' || value === 'normal' || value === 'sheddable') return value;
  throw new TypeError(`lifeline: option \`priority\` must be 'critical', 'normal' or 'sheddable', got ${JSON.stringify(value)}`);
}

/**
 * @internal A per-call `timeout` or `attemptTimeout`, under the name the caller used: a number
 * above 0, or `Infinity`. A valid one costs one comparison; the checks that name the problem
 * run only for a bad one.
 */
export function callDuration(name: 'timeout' | 'attemptTimeout', value: unknown): number {
  if (typeof value === 'number' && value > 0) return value;
  checkDuration(name, value, true);
  throw new RangeError(`lifeline: option \`${name}\` must be > 0, got 0`);
}


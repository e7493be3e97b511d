import {
  checkDuration,
  checkInteger,
  LifelineError,
  checkObject,
  checkOptionNames,
  optionNames,
  checkString,
  type Clock,
  type Deadline,
  type Logger,
} from '@lifeline/core';
import { CircuitBreaker, type CircuitBreakerOptions } from '@lifeline/breaker';
import { Bulkhead, type BulkheadOptions } from '@lifeline/bulkhead';
import type { Discovery } from '@lifeline/discovery';
import { RetryPolicy, type RetryPolicyOptions } from '@lifeline/retry';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { TelemetryOptions } from './telemetry.ts';

export type { Logger } from '@lifeline/core';

/**
 * A client's options. Spans and metrics go to the global OpenTelemetry providers, or to
 * `tracerProvider` / `meterProvider` when given.
 */
export interface ClientOptions extends TelemetryOptions {
  /**
   * The dependency's name, as errors, logs and metrics call it (`payment`). Default: `service`
   * with discovery, else the base URL's host (`payment:8080`).
   */
  name?: string;
  /** Origin, optionally with a path prefix: `http://payment:8080/v1`. Either this, or `service` and `discovery`. */
  baseUrl?: string | URL;
  /**
   * The service to find through `discovery` (`payment`): each attempt picks one of its
   * live endpoints, a retry prefers another one, and a call fails with `NO_ENDPOINTS`
   * when there is none, or `CIRCUIT_OPEN` when every endpoint is failing.
   */
  service?: string;
  /** Service discovery and load balancing, shared by the clients of a process. Not closed by `close()`. */
  discovery?: Discovery;
  /** With `discovery`: a path prefix for every request (`/v1`). */
  basePath?: string;
  /** Total deadline of a call, retries and body included, ms. Default 10 000. */
  timeout?: number;
  /** Limit on one attempt, until response headers, ms; never beyond the remaining deadline. Default 2 000. */
  attemptTimeout?: number;
  /** The retry policy, its options, or `false` for a single attempt. Default: 3 attempts in a 20 % budget. */
  retry?: RetryPolicy | RetryPolicyOptions | false;
  /**
   * The circuit breaker every attempt goes through: one, its options, or `false`. Default:
   * opens at ≥ 50 % failures over ≥ 20 calls in 10 s or 5 in a row, half-open after 5 s with
   * 3 probes; 5xx, connection failures and timeouts are failures, and so is a response
   * slower than 0.8 × `attemptTimeout`. With `discovery`, each endpoint has a breaker of
   * its own, configured on the `Discovery`, and this option is refused.
   */
  breaker?: CircuitBreaker | CircuitBreakerOptions | false;
  /**
   * The bulkhead around whole calls to this dependency: one, its options, or `false`.
   * Default: 100 in flight, 200 waiting, a wait bounded by the call's deadline.
   */
  bulkhead?: Bulkhead | BulkheadOptions | false;
  /** Headers sent on every request. */
  headers?: Record<string, string>;
  /** Throw `HTTP_STATUS` for a final status >= 400 instead of returning the response. Default true. */
  throwOnHttpError?: boolean;
  /** Connections in the pool (per endpoint with discovery). Default: unlimited. */
  connections?: number;
  /** HTTP/1.1 pipelining depth. Default 1. */
  pipelining?: number;
  /** Use this undici dispatcher instead of a pool of the client's own (it is not closed by `close()`). */
  dispatcher?: Dispatcher;
  /** A pino logger for state changes (retry budget exhausted, recovered). Never a line per request. */
  logger?: Logger;
  /** @internal For tests: the clock deadlines use. */
  clock?: Clock;
}

const CLIENT_OPTIONS = optionNames<ClientOptions>({
  name: true,
  baseUrl: true,
  service: true,
  discovery: true,
  basePath: true,
  timeout: true,
  attemptTimeout: true,
  retry: true,
  breaker: true,
  bulkhead: true,
  headers: true,
  throwOnHttpError: true,
  connections: true,
  pipelining: true,
  dispatcher: true,
  logger: true,
  clock: true,
  tracerProvider: true,
  meterProvider: true,
});

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
    throwOnHttpError: true,
  } satisfies { [K in keyof Required<RequestOptions>]: true },
);

/** @internal The names of {@link CALL_OPTIONS}, for the did-you-mean message. */
export const CALL_OPTION_NAMES: readonly string[] = Object.freeze(Object.keys(CALL_OPTIONS));

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

// What undici refuses in a header (lib/core/util.js): a name that is not an RFC 9110 token,
// a value with a control character other than a tab, or a character above U+00FF.
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const BAD_HEADER_VALUE = /[^\t\x20-\x7e\x80-\xff]/;

/**
 * @internal The first header of `headers` (in any form undici takes: a record, a flat
 * `[name, value, …]` array, or an iterable of pairs) that undici would refuse, as a
 * {@link LifelineError} `INVALID_HEADER` naming it (never quoting the value, which may be a
 * secret). `undefined` when every header is valid. Run only after undici refused a request,
 * so valid calls never pay for it.
 */
export function invalidHeaderError(headers: unknown, service: string, cause?: unknown): LifelineError | undefined {
  if (headers === null || typeof headers !== 'object') return undefined;
  let pairs: Iterable<readonly [unknown, unknown]>;
  if (Array.isArray(headers)) {
    const flat: [unknown, unknown][] = [];
    for (let i = 0; i + 1 < headers.length; i += 2) flat.push([headers[i], headers[i + 1]]);
    pairs = flat;
  } else if (typeof (headers as Iterable<unknown>)[Symbol.iterator] === 'function') {
    pairs = headers as Iterable<[unknown, unknown]>;
  } else {
    pairs = Object.entries(headers);
  }
  for (const [name, value] of pairs) {
    const key = String(name);
    if (!HEADER_NAME.test(key)) {
      return new LifelineError('INVALID_HEADER', `${service}: header name ${JSON.stringify(key)} is not a valid HTTP token; nothing was sent`, { service, cause });
    }
    const values: unknown[] = Array.isArray(value) ? value : [value];
    if (values.some((v) => typeof v === 'string' && BAD_HEADER_VALUE.test(v))) {
      return new LifelineError(
        'INVALID_HEADER',
        `${service}: header \`${key}\` has a CR, LF or NUL in its value (or another character a header cannot hold); nothing was sent`,
        { service, cause },
      );
    }
  }
  return undefined;
}

/** @internal */
export interface ResolvedClientOptions {
  name: string;
  /** The base URL's origin; empty with discovery. */
  origin: string;
  service: string | undefined;
  discovery: Discovery | undefined;
  prefix: string;
  timeout: number;
  attemptTimeout: number;
  retry: RetryPolicy;
  breaker: CircuitBreaker | undefined;
  bulkhead: Bulkhead | undefined;
  headers: Record<string, string>;
  throwOnHttpError: boolean;
  connections: number | undefined;
  pipelining: number | undefined;
}

/** A retry policy from the `retry` option: a policy, its options, or `false` for one attempt. @internal */
export function resolveRetry(option: RetryPolicy | RetryPolicyOptions | false | undefined): RetryPolicy {
  if (option instanceof RetryPolicy) return option;
  if (option === false) return new RetryPolicy({ maxAttempts: 1, budget: false });
  return new RetryPolicy(checkObject('retry', option));
}

/** A request body that can be sent again on a retry (a stream can be read only once). @internal */
export function isReplayable(body: unknown): boolean {
  return body === undefined || body === null || typeof body === 'string' || body instanceof Uint8Array;
}

function parseBaseUrl(baseUrl: string | URL | undefined): URL {
  if (baseUrl === undefined) {
    throw new TypeError('lifeline: createClient needs `baseUrl` (a fixed address), or `service` with `discovery`');
  }
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new TypeError(`lifeline: option \`baseUrl\` must be an absolute http(s) URL, got ${JSON.stringify(String(baseUrl))}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TypeError(`lifeline: option \`baseUrl\` must use http: or https:, got ${JSON.stringify(url.protocol)}`);
  }
  if (url.search !== '' || url.hash !== '') {
    throw new TypeError(`lifeline: option \`baseUrl\` must not have a query or fragment, got ${JSON.stringify(url.href)}`);
  }
  return url;
}

/** Validates and resolves client options once, at construction. @internal */
export function resolveClientOptions(options: ClientOptions): ResolvedClientOptions {
  if (checkObject('options', options) === undefined) throw new TypeError('lifeline: createClient needs an options object');
  checkOptionNames('', options, CLIENT_OPTIONS);
  const discovery = options.discovery;
  let origin = '';
  let prefix = '';
  let service: string | undefined;
  if (discovery === undefined) {
    if (options.service !== undefined) {
      throw new TypeError('lifeline: option `service` needs `discovery` (a Discovery that finds its instances); for a fixed address use `baseUrl`');
    }
    const url = parseBaseUrl(options.baseUrl);
    origin = url.origin;
    prefix = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '');
  } else {
    if (typeof discovery !== 'object' || discovery === null || typeof discovery.pool !== 'function') {
      throw new TypeError(`lifeline: option \`discovery\` must be a Discovery, got ${typeof discovery}`);
    }
    service = checkString('service', options.service);
    if (options.baseUrl !== undefined) {
      throw new TypeError('lifeline: options `baseUrl` and `discovery` exclude each other: discovery finds the addresses (use `basePath` for a path prefix)');
    }
    if (options.breaker !== undefined && options.breaker !== false) {
      throw new TypeError('lifeline: option `breaker` does not apply with `discovery`: each endpoint has its own breaker, configured on the Discovery (`breaker` option)');
    }
    if (options.dispatcher !== undefined) {
      throw new TypeError('lifeline: option `dispatcher` does not apply with `discovery`: the client dispatches to the endpoints it picks');
    }
    const basePath = options.basePath === undefined ? '' : checkString('basePath', options.basePath);
    if (basePath !== '' && !/^\/[^?#]*$/.test(basePath)) {
      throw new TypeError(`lifeline: option \`basePath\` must start with "/" and have no query or fragment, got ${JSON.stringify(basePath)}`);
    }
    prefix = basePath.replace(/\/$/, '');
  }
  const name = checkString('name', options.name ?? service ?? new URL(origin).host);
  const timeout = checkDuration('timeout', options.timeout ?? 10_000, true);
  const attemptTimeout = checkDuration('attemptTimeout', options.attemptTimeout ?? 2_000, true);
  if (timeout === 0 || attemptTimeout === 0) {
    throw new RangeError(`lifeline: option \`${timeout === 0 ? 'timeout' : 'attemptTimeout'}\` must be > 0, got 0`);
  }
  const retry = resolveRetry(options.retry);
  const breakerOption = options.breaker;
  let breaker: CircuitBreaker | undefined;
  if (breakerOption instanceof CircuitBreaker) breaker = breakerOption;
  else if (breakerOption !== false && discovery === undefined) {
    breaker = new CircuitBreaker({
      name,
      slowCallMs: attemptTimeout === Infinity ? Infinity : attemptTimeout * 0.8,
      ...(checkObject('breaker', breakerOption) as CircuitBreakerOptions | undefined),
      ...(options.clock === undefined ? {} : { clock: options.clock }),
    });
  }
  const bulkheadOption = options.bulkhead;
  let bulkhead: Bulkhead | undefined;
  if (bulkheadOption instanceof Bulkhead) bulkhead = bulkheadOption;
  else if (bulkheadOption !== false) {
    bulkhead = new Bulkhead({
      ...(checkObject('bulkhead', bulkheadOption) as BulkheadOptions | undefined),
      ...(options.clock === undefined ? {} : { clock: options.clock }),
    });
  }
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(checkObject('headers', options.headers) ?? {})) {
    if (typeof value !== 'string') throw new TypeError(`lifeline: option \`headers.${key}\` must be a string, got ${typeof value}`);
    if (!HEADER_NAME.test(key)) throw new TypeError(`lifeline: option \`headers\` has an invalid header name ${JSON.stringify(key)}`);
    if (BAD_HEADER_VALUE.test(value)) {
      throw new TypeError(`lifeline: option \`headers.${key}\` must be a valid header value (no CR, LF or NUL)`);
    }
    headers[key.toLowerCase()] = value;
  }
  return {
    name,
    origin,
    service,
    discovery,
    prefix,
    timeout,
    attemptTimeout,
    retry,
    breaker,
    bulkhead,
    headers,
    throwOnHttpError: options.throwOnHttpError ?? true,
    connections: options.connections === undefined ? undefined : checkInteger('connections', options.connections),
    pipelining: options.pipelining === undefined ? undefined : checkInteger('pipelining', options.pipelining),
  };
}

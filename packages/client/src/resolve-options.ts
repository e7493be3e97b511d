import { AdaptiveThrottle, BreakerGroup, CircuitBreaker, isBreaker, type Breaker, type CircuitBreakerOptions } from '@lifeline/breaker';
import { Bulkhead, isLimiter, type BulkheadOptions, type Limiter } from '@lifeline/bulkhead';
import { checkDuration, checkInteger, checkObject, checkOptionNames, checkString, systemClock, type Clock, type Logger } from '@lifeline/core';
import type { Discovery } from '@lifeline/discovery';
import { RetryPolicy, type RetryPolicyOptions } from '@lifeline/retry';
import type { Dispatcher } from 'undici';
import { BAD_HEADER_VALUE, HEADER_NAME } from './header-check.ts';
import { OPTION_NAMES, THROTTLE_NAMES, type ClientOptions } from './options.ts';
import type { TelemetryOptions } from './telemetry.ts';

/** Which face is being configured: they share every pipeline option and differ in a few of their own. @internal */
export type Face = keyof typeof OPTION_NAMES;

/** Options resolved once, at construction: what the pipeline and its faces run on. @internal */
export interface ResolvedOptions {
  name: string;
  /** The base URL's origin; empty with discovery, or for an interceptor that serves any origin. */
  origin: string;
  service: string | undefined;
  discovery: Discovery | undefined;
  /** The client's path prefix (from `baseUrl` or `basePath`). */
  prefix: string;
  timeout: number;
  attemptTimeout: number;
  retry: RetryPolicy;
  /** One breaker for the dependency. */
  breaker: Breaker | undefined;
  /** A breaker per origin, for an interceptor that serves any origin. */
  breakers: BreakerGroup | undefined;
  limiter: Limiter | undefined;
  /** Client-side adaptive throttling, one for the dependency; undefined when off. */
  throttle: AdaptiveThrottle | undefined;
  headers: Record<string, string>;
  logger: Logger | undefined;
  clock: Clock;
  telemetry: TelemetryOptions;
  throwOnHttpError: boolean;
  connections: number | undefined;
  pipelining: number | undefined;
  dispatcher: Dispatcher | undefined;
}

/** A retry policy from the `retry` option: a policy, its options, or `false` for one attempt. @internal */
export function resolveRetry(option: RetryPolicy | RetryPolicyOptions | false | undefined): RetryPolicy {
  if (option instanceof RetryPolicy) return option;
  if (option === false) return new RetryPolicy({ maxAttempts: 1, budget: false });
  return new RetryPolicy(checkObject('retry', option));
}

function parseBaseUrl(baseUrl: string | URL): URL {
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

/** Where calls go: a base URL, a discovered service, or (an interceptor only) any origin. */
function resolveTarget(options: ClientOptions, face: Face): Pick<ResolvedOptions, 'origin' | 'prefix' | 'service' | 'discovery'> {
  const discovery = options.discovery;
  if (discovery === undefined) {
    if (options.service !== undefined) {
      throw new TypeError('lifeline: option `service` needs `discovery` (a Discovery that finds its instances); for a fixed address use `baseUrl`');
    }
    if (options.baseUrl === undefined) {
      if (face === 'client') throw new TypeError('lifeline: createClient needs `baseUrl` (a fixed address), or `service` with `discovery`');
      return { origin: '', prefix: '', service: undefined, discovery: undefined };
    }
    const url = parseBaseUrl(options.baseUrl);
    return { origin: url.origin, prefix: url.pathname === '/' ? '' : url.pathname.replace(/\/$/, ''), service: undefined, discovery };
  }
  if (typeof discovery !== 'object' || discovery === null || typeof discovery.pool !== 'function') {
    throw new TypeError(`lifeline: option \`discovery\` must be a Discovery, got ${typeof discovery}`);
  }
  const service = checkString('service', options.service);
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
  return { origin: '', prefix: basePath.replace(/\/$/, ''), service, discovery };
}

function resolveBreaker(options: ClientOptions, name: string, attemptTimeout: number, anyOrigin: boolean): Pick<ResolvedOptions, 'breaker' | 'breakers'> {
  const option = options.breaker;
  if (isBreaker(option)) return { breaker: option, breakers: undefined };
  if (option === false || options.discovery !== undefined) return { breaker: undefined, breakers: undefined };
  const settings: CircuitBreakerOptions = {
    slowCallMs: attemptTimeout === Infinity ? Infinity : attemptTimeout * 0.8,
    ...(checkObject('breaker', option) as CircuitBreakerOptions | undefined),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
  };
  // An interceptor that serves any origin keeps a breaker per origin: one failing host must not stop the others.
  if (anyOrigin) return { breaker: undefined, breakers: new BreakerGroup(settings) };
  return { breaker: new CircuitBreaker({ name, ...settings }), breakers: undefined };
}

function resolveLimiter(options: ClientOptions): Limiter | undefined {
  const option = options.bulkhead;
  if (option === false) return undefined;
  if (isLimiter(option)) return option;
  return new Bulkhead({
    ...(checkObject('bulkhead', option) as BulkheadOptions | undefined),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
  });
}

/**
 * The dependency's throttle from the `throttle` option (on by default). An interceptor that
 * serves any origin has none: one overloaded host must not throttle the others.
 */
function resolveThrottle(options: ClientOptions, name: string, anyOrigin: boolean): AdaptiveThrottle | undefined {
  const option = options.throttle;
  if (option === false) return undefined;
  if (option instanceof AdaptiveThrottle) return option;
  const settings = checkObject('throttle', option);
  checkOptionNames('throttle', settings, THROTTLE_NAMES);
  // Built either way, so that a bad value is refused whatever the face.
  const throttle = new AdaptiveThrottle({ ...settings, name, ...(options.clock === undefined ? {} : { clock: options.clock }) });
  return anyOrigin ? undefined : throttle;
}

function resolveHeaders(option: Record<string, string> | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(checkObject('headers', option) ?? {})) {
    if (typeof value !== 'string') throw new TypeError(`lifeline: option \`headers.${key}\` must be a string, got ${typeof value}`);
    if (!HEADER_NAME.test(key)) throw new TypeError(`lifeline: option \`headers\` has an invalid header name ${JSON.stringify(key)}`);
    if (BAD_HEADER_VALUE.test(value)) {
      throw new TypeError(`lifeline: option \`headers.${key}\` must be a valid header value (no CR, LF or NUL)`);
    }
    headers[key.toLowerCase()] = value;
  }
  return headers;
}

/**
 * Validates and resolves the options of one face (`client`, `lifeline`, `dispatcher`) once,
 * at construction: every face goes through this one resolution, so the same options mean
 * the same pipeline whichever face is asked for.
 *
 * @internal
 */
export function resolveOptions(options: ClientOptions, face: Face): ResolvedOptions {
  if (checkObject('options', options) === undefined) throw new TypeError('lifeline: createClient needs an options object');
  checkOptionNames('', options, OPTION_NAMES[face]);
  const target = resolveTarget(options, face);
  const name = checkString('name', options.name ?? target.service ?? (target.origin === '' ? 'http' : new URL(target.origin).host));
  const timeout = checkDuration('timeout', options.timeout ?? 10_000, true);
  const attemptTimeout = checkDuration('attemptTimeout', options.attemptTimeout ?? 2_000, true);
  if (timeout === 0 || attemptTimeout === 0) {
    throw new RangeError(`lifeline: option \`${timeout === 0 ? 'timeout' : 'attemptTimeout'}\` must be > 0, got 0`);
  }
  const anyOrigin = target.origin === '' && target.discovery === undefined;
  return {
    ...target,
    name,
    timeout,
    attemptTimeout,
    retry: resolveRetry(options.retry),
    ...resolveBreaker(options, name, attemptTimeout, anyOrigin),
    limiter: resolveLimiter(options),
    throttle: resolveThrottle(options, name, anyOrigin),
    headers: resolveHeaders(options.headers),
    logger: options.logger,
    clock: options.clock ?? systemClock,
    telemetry: { tracerProvider: options.tracerProvider, meterProvider: options.meterProvider },
    throwOnHttpError: options.throwOnHttpError ?? true,
    connections: options.connections === undefined ? undefined : checkInteger('connections', options.connections),
    pipelining: options.pipelining === undefined ? undefined : checkInteger('pipelining', options.pipelining),
    dispatcher: options.dispatcher,
  };
}

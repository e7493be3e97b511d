import { checkDuration, checkOptionNames, checkString, optionNames } from '@lifeline/core';

/**
 * The active health check of endpoints whose breaker is open: while an endpoint is ejected
 * (or failing beyond the ejection cap), the pool GETs `path` on it every `intervalMs`, and a
 * 2xx ends its break at once — the breaker goes half-open and its probes decide, instead of
 * waiting out a break that doubled with each failed probe while the dependency was down.
 *
 * @example
 * new Discovery({ resolver, healthCheck: { path: '/healthz', intervalMs: 1_000 } });
 */
export interface HealthCheckOptions {
  /** The path to GET, from the root (a client's `pathPrefix` does not apply). Default `/health/ready`, the readiness route of Lifeline's server. */
  path?: string;
  /** How often an open endpoint is checked, ms (from when its breaker opened). Default 500. */
  intervalMs?: number;
  /** A check that has not answered in this long failed, ms. Default 1 000. */
  timeoutMs?: number;
}

/** The health check as the pool runs it, resolved once. @internal */
export interface HealthCheckSettings {
  readonly path: string;
  readonly intervalMs: number;
  readonly timeoutMs: number;
}

const HEALTH_CHECK_OPTIONS = optionNames<HealthCheckOptions>({ path: true, intervalMs: true, timeoutMs: true });

/**
 * Why these defaults:
 * - `/health/ready`: Lifeline's server answers it (503 while draining or while a readiness
 *   check fails), so a Lifeline service needs no configuration.
 * - 500 ms: the time to recover after a fault clears is at most one interval plus the check's
 *   round trip, and the goal is under a second. The cost is two small GETs a second per open
 *   endpoint, and nothing at all while every endpoint is healthy. Envoy's active health check
 *   has no default interval; Kubernetes' readiness probe defaults to 10 s, which is the slow
 *   recovery this check exists to avoid.
 * - 1 s timeout, Kubernetes' default for a probe: a readiness route answers from memory. At most
 *   one check per endpoint is in flight, so a hanging endpoint is checked once a second.
 */
const DEFAULTS: HealthCheckSettings = { path: '/health/ready', intervalMs: 500, timeoutMs: 1_000 };

/** Validates the `healthCheck` option: the settings, or `undefined` when turned off (`false`). @internal */
export function resolveHealthCheck(value: unknown): HealthCheckSettings | undefined {
  if (value === false) return undefined;
  if (value === undefined) return DEFAULTS;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(`lifeline: option \`healthCheck\` must be an object ({ path, intervalMs, timeoutMs }) or false, got ${show(value)}`);
  }
  const options = value as HealthCheckOptions;
  checkOptionNames('healthCheck', options, HEALTH_CHECK_OPTIONS);
  const path = checkString('healthCheck.path', options.path ?? DEFAULTS.path);
  if (!path.startsWith('/') || /[\s#]/.test(path)) {
    throw new TypeError(`lifeline: option \`healthCheck.path\` must be a path starting with "/", without spaces or a fragment, got ${JSON.stringify(path)}`);
  }
  const intervalMs = checkDuration('healthCheck.intervalMs', options.intervalMs ?? DEFAULTS.intervalMs);
  if (intervalMs < 10) throw new RangeError(`lifeline: option \`healthCheck.intervalMs\` must be >= 10, got ${intervalMs}`);
  const timeoutMs = checkDuration('healthCheck.timeoutMs', options.timeoutMs ?? DEFAULTS.timeoutMs);
  if (timeoutMs === 0) throw new RangeError('lifeline: option `healthCheck.timeoutMs` must be > 0, got 0');
  return { path, intervalMs, timeoutMs };
}

function show(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'function') return 'a function';
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

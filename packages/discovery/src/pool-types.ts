import type { CircuitBreakerOptions } from '@lifeline/breaker';
import type { Clock, Logger } from '@lifeline/core';
import type { Balancer, BalancerKind } from './balancer.ts';
import type { EndpointSnapshot } from './endpoint.ts';
import type { HealthCheckSettings } from './health-check.ts';

/** How a pool routes, resolved once by {@link Discovery}. @internal */
export interface PoolSettings {
  /** A name makes one balancer per pool; an object is shared by every pool. */
  readonly balancer: BalancerKind | Balancer;
  readonly maxEjectionRatio: number;
  readonly panicThreshold: number;
  readonly breaker: CircuitBreakerOptions;
  /** A failed attempt counts as a latency sample of at least this (ms): the breaker's slow-call threshold. */
  readonly failurePenaltyMs: number;
  readonly ewmaDecayMs: number;
  readonly scheme: 'http' | 'https';
  readonly source: string;
  readonly clock: Clock;
  readonly logger: Logger | undefined;
  /** The active health check of open endpoints; undefined when turned off. */
  readonly healthCheck: HealthCheckSettings | undefined;
}

/**
 * How the pool routes now:
 * - `normal`: attempts go to healthy endpoints (and probing ones, within their probe
 *   slots); ejected endpoints get nothing;
 * - `panic`: fewer than `panicThreshold` of the endpoints are healthy. Routing is the same —
 *   healthy endpoints first, always — but ejected endpoints become a last resort: an
 *   attempt goes to one only when no healthy endpoint will take it (the call already failed
 *   on each). Envoy's panic mode routes to every host alike, on the grounds that a mass
 *   ejection is more likely a wrong verdict than a mass failure; in a pool of 2–4 that sends
 *   most calls to the failing instances, so here panic widens the fallback instead;
 * - `open`: no endpoint is healthy: only half-open probes go through and every other call
 *   fails fast with `CIRCUIT_OPEN` — the service's circuit is open;
 * - `empty`: the resolver knows no instance: calls fail with `NO_ENDPOINTS`.
 */
export type PoolMode = 'normal' | 'panic' | 'open' | 'empty';

/** An endpoint ejected, or back in rotation. */
export interface EjectionEvent {
  service: string;
  endpoint: string;
  address: string;
  /** True when ejected, false when it returned (half-open probes) or was removed. */
  ejected: boolean;
  /** Why: the breaker's transition reason, `health-check`, `removed` or `ejection-cap` (see {@link EndpointTransition}). */
  reason: string;
  ejections: number;
  /** The ejection lasts this long before probes (ms), when ejected. */
  durationMs: number | undefined;
}

/** A service's pool as plain JSON. */
export interface PoolSnapshot {
  service: string;
  /** The resolver kind the instances come from. */
  source: string;
  /** The balancer's name (`p2c`, `round-robin`, or a custom one). */
  balancer: string;
  mode: PoolMode;
  /** The resolver is failing and these are its last good instances. */
  stale: boolean;
  error: string | undefined;
  /** Age of the resolver's data, ms; undefined before its first answer. */
  ageMs: number | undefined;
  healthy: number;
  ejected: number;
  /**
   * The active health check of open endpoints: checks sent and how many answered 2xx (each
   * ended a break); `false` when turned off. Counts every endpoint the pool has had.
   */
  healthChecks: { sent: number; healthy: number } | false;
  endpoints: EndpointSnapshot[];
}

import { CircuitBreaker, type CircuitBreakerOptions } from '@lifeline/breaker';
import { checkDuration, checkObject, checkOneOf, checkRatio, systemClock, type Clock, type Disposable, type Logger, checkOptionNames, optionNames } from '@lifeline/core';
import type { Balancer, BalancerKind } from './balancer.ts';
import { resolveHealthCheck, type HealthCheckOptions } from './health-check.ts';
import type { Resolver } from './instance.ts';
import type { PoolSettings, PoolSnapshot } from './pool-types.ts';
import { checkServiceName } from './resolver-base.ts';
import { ServicePool } from './service-pool.ts';

export interface DiscoveryOptions {
  /** Where instances come from: a {@link StaticResolver}, {@link DnsResolver} or {@link EtcdResolver}. Closed by `close()`. */
  resolver: Resolver;
  /**
   * How an attempt chooses among the endpoints that can take it: `p2c` (power of two
   * choices, least loaded by peak-EWMA latency × requests in flight), `round-robin`, or a
   * {@link Balancer} object (shared by every service's pool). Default `p2c`.
   */
  balancer?: BalancerKind | Balancer;
  /**
   * Options of each endpoint's circuit breaker, the outlier detector. Default: opens at
   * ≥ 50 % failures over ≥ 20 calls in 10 s or 5 failures in a row, or for responses slower
   * than 1.6 s; ejected for 5 s, then 3 probes; a failed probe or a new ejection within a
   * minute of the last doubles the break, up to 60 s. `slowCallMs` is also the latency a
   * failed attempt counts as in the balancer (1.6 s when slow calls are off).
   */
  breaker?: Omit<CircuitBreakerOptions, 'name' | 'clock'>;
  /**
   * At most this share of a service's endpoints is ejected at once; never the last one.
   * A failing endpoint beyond the cap is not ejected but is still no peer of the healthy
   * ones: it gets an attempt only when no healthy endpoint will take it. Default 1 (every
   * failing endpoint but the last): see the README's "Small pools".
   */
  maxEjectionRatio?: number;
  /**
   * Below this share of healthy endpoints the pool is in panic mode: ejected endpoints
   * become a last resort for an attempt no healthy endpoint will take (the call already
   * failed on each). Healthy endpoints are always preferred. 0 turns it off. Default 0.5.
   */
  panicThreshold?: number;
  /** How fast the latency EWMA forgets, ms. Default 10 000. */
  ewmaDecayMs?: number;
  /**
   * While an endpoint's breaker is open (ejected, or failing beyond the cap), GET its health
   * route every `intervalMs`; a 2xx ends the break at once and half-open probes decide, so an
   * endpoint that recovers is back within about one interval instead of when a break that
   * doubled during the fault ends (Envoy's `successful_active_health_check_uneject_host`).
   * Non-2xx, a timeout or a refused connection leave the break as it is. Never checks an
   * endpoint forced open by an operator; sends nothing while every endpoint is healthy.
   * Default `{ path: '/health/ready', intervalMs: 500, timeoutMs: 1_000 }`; `false` turns it off.
   */
  healthCheck?: HealthCheckOptions | false;
  /** The scheme requests to instances use. Default `http`. */
  scheme?: 'http' | 'https';
  /** Logs ejections, returns (a passed health check among them), panic mode and empty pools. */
  logger?: Logger;
  /** @internal For tests. */
  clock?: Clock;
}

const DISCOVERY_OPTIONS = optionNames<DiscoveryOptions>({ resolver: true, balancer: true, breaker: true, maxEjectionRatio: true, panicThreshold: true, ewmaDecayMs: true, healthCheck: true, scheme: true, logger: true, clock: true });


/** Every followed service as plain JSON. */
export interface DiscoverySnapshot {
  source: string;
  services: PoolSnapshot[];
}

/** The breaker's slow-call threshold by default: 0.8 × the client's 2 s attempt timeout. */
const SLOW_CALL_MS = 1_600;
const DEFAULT_BREAKER: CircuitBreakerOptions = { slowCallMs: SLOW_CALL_MS, breakMemoryMs: 60_000 };

/**
 * Why these defaults, for pools of 2–4 instances (measured before: 1 healthy of 3, the
 * others refusing connections and answering 500 — 22–74 % of calls succeeded):
 * - `maxEjectionRatio` 1, was 0.5: floor(0.5 × 3) = 1, so of two failing instances one stayed
 *   in rotation as a full peer and took a third of the calls. Envoy and gRPC cap ejection to
 *   keep a wrongly judged majority in service; here panic mode (below) does that, without
 *   making failing endpoints peers, so the cap need not also strand traffic on them.
 * - `panicThreshold` 0.5, as Envoy — but panic no longer routes to every endpoint alike.
 *   It only lets ejected endpoints take an attempt no healthy one will (the call failed on
 *   each): with 1 healthy of 3, every first attempt still goes to the healthy one.
 * - A failure counts in the balancer as a latency of `slowCallMs`, never as its own few
 *   microseconds (see `Endpoint.penalize`), so until its breaker opens a refusing endpoint
 *   loses every comparison with a healthy one instead of winning it by failing fast.
 * - Breakers as before (5 failures in a row, ≥ 50 % of ≥ 20): Envoy's consecutive_5xx is 5;
 *   fewer would eject a healthy instance on one unlucky burst, and in a small pool that is a
 *   third of the capacity.
 */
const DEFAULT_MAX_EJECTION_RATIO = 1;
const DEFAULT_PANIC_THRESHOLD = 0.5;

/**
 * Service discovery with client-side load balancing: follows services through a
 * resolver and keeps a {@link ServicePool} per service — its live endpoints, each with
 * a breaker that ejects it when it fails, and a balancer over the rest. Give it to
 * `createClient({ service, discovery })`; clients of one service share its pool.
 *
 * @example
 * const discovery = new Discovery({ resolver: StaticResolver.fromEnv() });
 * const payment = createClient({ service: 'payment', discovery });
 * // later: await payment.close(); await discovery.close();
 */
export class Discovery {
  readonly resolver: Resolver;
  readonly #settings: PoolSettings;
  readonly #pools = new Map<string, { pool: ServicePool; subscription: Disposable }>();
  #closed = false;

  constructor(options: DiscoveryOptions) {
    if (checkObject('options', options) === undefined) throw new TypeError('lifeline: Discovery needs an options object');
    checkOptionNames('', options, DISCOVERY_OPTIONS);
    const resolver = options.resolver;
    if (typeof resolver !== 'object' || resolver === null || typeof resolver.subscribe !== 'function') {
      throw new TypeError(`lifeline: option \`resolver\` must be a Resolver (StaticResolver, DnsResolver, EtcdResolver), got ${resolver === null ? 'null' : typeof resolver}`);
    }
    this.resolver = resolver;
    const breaker = { ...DEFAULT_BREAKER, ...(checkObject('breaker', options.breaker) as CircuitBreakerOptions | undefined) };
    // Validate the breaker options once, here, rather than at the first endpoint.
    new CircuitBreaker(breaker);
    const slowCallMs = breaker.slowCallMs;
    this.#settings = {
      balancer: checkBalancer(options.balancer),
      maxEjectionRatio: checkRatio('maxEjectionRatio', options.maxEjectionRatio ?? DEFAULT_MAX_EJECTION_RATIO),
      panicThreshold: checkRatio('panicThreshold', options.panicThreshold ?? DEFAULT_PANIC_THRESHOLD),
      breaker,
      failurePenaltyMs: slowCallMs !== undefined && slowCallMs > 0 && slowCallMs !== Infinity ? slowCallMs : SLOW_CALL_MS,
      ewmaDecayMs: checkDuration('ewmaDecayMs', options.ewmaDecayMs ?? 10_000),
      scheme: checkOneOf('scheme', options.scheme ?? 'http', ['http', 'https'] as const),
      source: resolver.kind,
      clock: options.clock ?? systemClock,
      logger: options.logger,
      healthCheck: resolveHealthCheck(options.healthCheck),
    };
    if (this.#settings.ewmaDecayMs === 0) throw new RangeError('lifeline: option `ewmaDecayMs` must be > 0, got 0');
  }

  /** The pool of `service`, following it from the first call on. */
  pool(service: string): ServicePool {
    checkServiceName(service);
    if (this.#closed) throw new Error('lifeline: the discovery is closed');
    let entry = this.#pools.get(service);
    if (entry === undefined) {
      const pool = new ServicePool(service, this.#settings);
      entry = { pool, subscription: { dispose() {} } };
      this.#pools.set(service, entry);
      entry.subscription = this.resolver.subscribe(service, (state) => pool.update(state));
    }
    return entry.pool;
  }

  snapshot(): DiscoverySnapshot {
    return { source: this.resolver.kind, services: [...this.#pools.values()].map(({ pool }) => pool.snapshot()) };
  }

  /** Stops following every service and closes the resolver. Close the clients that use it first. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const { pool, subscription } of this.#pools.values()) {
      subscription.dispose();
      pool.close();
    }
    this.#pools.clear();
    await this.resolver.close();
  }
}

function checkBalancer(value: unknown): BalancerKind | Balancer {
  if (value === undefined) return 'p2c';
  if (typeof value === 'object' && value !== null) {
    const candidate = value as Partial<Balancer>;
    if (typeof candidate.pick !== 'function' || typeof candidate.name !== 'string') {
      throw new TypeError('lifeline: option `balancer` must be "p2c", "round-robin" or a Balancer (an object with `name` and `pick(candidates, context)`), got an object without them');
    }
    return value as Balancer;
  }
  return checkOneOf('balancer', value, ['p2c', 'round-robin'] as const);
}

import { CircuitBreaker, type CircuitBreakerOptions } from '@lifeline/breaker';
import { checkDuration, checkObject, checkOneOf, checkRatio, systemClock, type Clock, type Disposable, type Logger, checkOptionNames, optionNames } from '@lifeline/core';
import type { Resolver } from './instance.ts';
import { checkServiceName } from './resolver-base.ts';
import { ServicePool, type BalancerKind, type PoolSettings, type PoolSnapshot } from './service-pool.ts';

export interface DiscoveryOptions {
  /** Where instances come from: a {@link StaticResolver}, {@link DnsResolver} or {@link EtcdResolver}. Closed by `close()`. */
  resolver: Resolver;
  /** `p2c` (power of two choices, least requests in flight, EWMA latency tie-break) or `round-robin`. Default `p2c`. */
  balancer?: BalancerKind;
  /**
   * Options of each endpoint's circuit breaker, the outlier detector. Default: opens at
   * ≥ 50 % failures over ≥ 20 calls in 10 s or 5 failures in a row, or for responses slower
   * than 1.6 s; ejected for 5 s, then 3 probes; a failed probe or a new ejection within a
   * minute of the last doubles the break, up to 60 s.
   */
  breaker?: Omit<CircuitBreakerOptions, 'name' | 'clock'>;
  /** At most this share of a service's endpoints is ejected at once (at least one always stays). Default 0.5. */
  maxEjectionRatio?: number;
  /** Below this share of healthy endpoints, route to all of them (Envoy's panic threshold); 0 turns it off. Default 0.5. */
  panicThreshold?: number;
  /** How fast the latency EWMA forgets, ms. Default 10 000. */
  ewmaDecayMs?: number;
  /** The scheme requests to instances use. Default `http`. */
  scheme?: 'http' | 'https';
  /** Logs ejections, returns, panic mode and empty pools. */
  logger?: Logger;
  /** @internal For tests. */
  clock?: Clock;
}

const DISCOVERY_OPTIONS = optionNames<DiscoveryOptions>({ resolver: true, balancer: true, breaker: true, maxEjectionRatio: true, panicThreshold: true, ewmaDecayMs: true, scheme: true, logger: true, clock: true });


/** Every followed service as plain JSON. */
export interface DiscoverySnapshot {
  source: string;
  services: PoolSnapshot[];
}

const DEFAULT_BREAKER: CircuitBreakerOptions = { slowCallMs: 1_600, breakMemoryMs: 60_000 };

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
    this.#settings = {
      balancer: checkOneOf('balancer', options.balancer ?? 'p2c', ['p2c', 'round-robin'] as const),
      maxEjectionRatio: checkRatio('maxEjectionRatio', options.maxEjectionRatio ?? 0.5),
      panicThreshold: checkRatio('panicThreshold', options.panicThreshold ?? 0.5),
      breaker,
      ewmaDecayMs: checkDuration('ewmaDecayMs', options.ewmaDecayMs ?? 10_000),
      scheme: checkOneOf('scheme', options.scheme ?? 'http', ['http', 'https'] as const),
      source: resolver.kind,
      clock: options.clock ?? systemClock,
      logger: options.logger,
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

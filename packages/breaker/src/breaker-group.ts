import { checkDuration, checkInteger, EventEmitter, systemClock, type Event } from '@lifeline/core';
import type { BreakerSnapshot, StateChange } from './breaker.ts';
import { CircuitBreaker, type CircuitBreakerOptions } from './circuit-breaker.ts';

export interface BreakerGroupOptions extends Omit<CircuitBreakerOptions, 'name'> {
  /** Breakers kept at most; past this the oldest closed one is evicted. Default 10 000. */
  maxBreakers?: number;
  /** A closed breaker unused this long is evicted, ms. Default 600 000 (10 min). */
  idleMs?: number;
}

interface Entry {
  breaker: CircuitBreaker;
  lastUsed: number;
}

/**
 * Breakers keyed by a string (an endpoint, a route), made on first use with shared
 * options, bounded in number, and evicted when idle. Breakers hold no timers of their own
 * (their windows rotate lazily), so the group's single unref'd sweep is the only timer
 * whatever the number of keys.
 *
 * @example
 * const breakers = new BreakerGroup({ failureRatio: 0.5, minimumCalls: 20 });
 * breakers.onStateChange(({ name, to }) => log.warn({ endpoint: name, state: to }, 'breaker'));
 * await breakers.get('10.0.0.7:8080').execute(() => callEndpoint());
 */
export class BreakerGroup {
  readonly #options: CircuitBreakerOptions;
  readonly #max: number;
  readonly #idleMs: number;
  readonly #entries = new Map<string, Entry>();
  readonly #onStateChange = new EventEmitter<StateChange>();
  readonly #forward = (change: StateChange): void => this.#onStateChange.emit(change);
  #sweep: NodeJS.Timeout | undefined;
  /** Transitions of every breaker in the group. */
  readonly onStateChange: Event<StateChange> = this.#onStateChange.event;

  constructor(options: BreakerGroupOptions = {}) {
    const { maxBreakers, idleMs, ...breakerOptions } = options;
    this.#max = checkInteger('breakers.maxBreakers', maxBreakers ?? 10_000, 1);
    this.#idleMs = checkDuration('breakers.idleMs', idleMs ?? 600_000, true);
    this.#options = { ...breakerOptions, clock: breakerOptions.clock ?? systemClock };
    // Validate the shared options once, now, rather than at the first key.
    new CircuitBreaker(this.#options);
  }

  /** The breaker for `key`, created on first use. */
  get(key: string): CircuitBreaker {
    const now = this.#options.clock!.now();
    const entry = this.#entries.get(key);
    if (entry !== undefined) {
      entry.lastUsed = now;
      return entry.breaker;
    }
    if (this.#entries.size >= this.#max) this.#evictOne();
    const breaker = new CircuitBreaker({ ...this.#options, name: key });
    breaker.onStateChange(this.#forward);
    this.#entries.set(key, { breaker, lastUsed: now });
    if (this.#sweep === undefined && this.#idleMs !== Infinity) {
      this.#sweep = setInterval(() => this.sweep(), Math.max(1_000, this.#idleMs / 2));
      this.#sweep.unref();
    }
    return breaker;
  }

  /** The breaker for `key` if it exists; never creates one. */
  peek(key: string): CircuitBreaker | undefined {
    return this.#entries.get(key)?.breaker;
  }

  /** True while the idle sweep (the group's one timer) is scheduled. */
  get sweeping(): boolean {
    return this.#sweep !== undefined;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Evicts closed breakers idle for longer than `idleMs`. Open ones are kept: they carry a verdict. */
  sweep(): void {
    const cutoff = this.#options.clock!.now() - this.#idleMs;
    for (const [key, { breaker, lastUsed }] of this.#entries) {
      if (lastUsed <= cutoff && breaker.state === 'closed') this.#entries.delete(key);
    }
    if (this.#entries.size === 0) this.#stopSweep();
  }

  snapshot(): BreakerSnapshot[] {
    return [...this.#entries.values()].map((e) => e.breaker.snapshot());
  }

  /** Drops every breaker and stops the sweep. */
  close(): void {
    this.#entries.clear();
    this.#stopSweep();
  }

  /**
   * Makes room for one: the oldest-created closed breaker goes (the map keeps creation
   * order), found in O(1) unless many of the oldest are open. Open ones carry a verdict and
   * are kept — unless all are open, since the bound is the bound.
   */
  #evictOne(): void {
    let victim: string | undefined;
    for (const [key, { breaker }] of this.#entries) {
      if (breaker.state === 'closed') {
        victim = key;
        break;
      }
    }
    victim ??= this.#entries.keys().next().value;
    if (victim !== undefined) this.#entries.delete(victim);
  }

  #stopSweep(): void {
    if (this.#sweep !== undefined) clearInterval(this.#sweep);
    this.#sweep = undefined;
  }
}

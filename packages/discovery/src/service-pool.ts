import { CircuitBreaker, CircuitOpenError, type CircuitBreakerOptions, type StateChange } from '@lifeline/breaker';
import { EventEmitter, LifelineError, type Clock, type Deadline, type Disposable, type Event, type Logger } from '@lifeline/core';
import { Endpoint, type EndpointSnapshot } from './endpoint.ts';
import { hostPort, type Instance, type ResolverState } from './instance.ts';

export type BalancerKind = 'p2c' | 'round-robin';

/** How a pool routes, resolved once by {@link Discovery}. @internal */
export interface PoolSettings {
  readonly balancer: BalancerKind;
  readonly maxEjectionRatio: number;
  readonly panicThreshold: number;
  readonly breaker: CircuitBreakerOptions;
  readonly ewmaDecayMs: number;
  readonly scheme: 'http' | 'https';
  readonly source: string;
  readonly clock: Clock;
  readonly logger: Logger | undefined;
}

/**
 * How the pool routes now:
 * - `normal`: the balancer skips ejected endpoints;
 * - `panic`: too few endpoints are healthy (below `panicThreshold`), so it routes to all of
 *   them, ejected or not, as Envoy does — a mass ejection is more likely a wrong verdict
 *   than a mass failure, and the healthy few would be overloaded;
 * - `open`: no endpoint is healthy: only half-open probes go through and every other call
 *   fails fast with `CIRCUIT_OPEN` — the service's circuit is open;
 * - `empty`: the resolver knows no instance: calls fail with `NO_ENDPOINTS`.
 */
export type PoolMode = 'normal' | 'panic' | 'open' | 'empty';

export interface EjectionEvent {
  service: string;
  endpoint: string;
  address: string;
  /** True when ejected, false when it returned (half-open probes) or was removed. */
  ejected: boolean;
  ejections: number;
  /** The ejection lasts this long before probes (ms), when ejected. */
  durationMs: number | undefined;
}

/** A service's pool as plain JSON. */
export interface PoolSnapshot {
  service: string;
  /** The resolver kind the instances come from. */
  source: string;
  mode: PoolMode;
  /** The resolver is failing and these are its last good instances. */
  stale: boolean;
  error: string | undefined;
  /** Age of the resolver's data, ms; undefined before its first answer. */
  ageMs: number | undefined;
  healthy: number;
  ejected: number;
  endpoints: EndpointSnapshot[];
}

const NORMAL = 0;
const PANIC = 1;
const OPEN = 2;
const EMPTY = 3;
const MODES: readonly PoolMode[] = ['normal', 'panic', 'open', 'empty'];

/**
 * The live endpoints of one service and the balancer over them.
 *
 * Each endpoint has its own circuit breaker, fed by the outcome of every attempt sent to
 * it; an open breaker marks the endpoint an outlier, and the pool ejects it — the balancer
 * skips it — until the breaker's break ends and half-open probes decide. A breaker that
 * keeps failing takes longer breaks (`breakMultiplier`, `breakMemoryMs`), so repeated
 * ejections last longer, up to `maxBreakDuration`. At most `maxEjectionRatio` of the
 * endpoints are ejected at once and at least one always stays; below `panicThreshold`
 * healthy endpoints the pool routes to all (see {@link PoolMode}).
 *
 * `pick()` is O(1) and allocates nothing: power of two choices over the live list —
 * the endpoint with fewer requests in flight wins, a lower peak-EWMA latency breaks a tie
 * (Envoy's least_request, Finagle's P2C) — or round-robin.
 */
export class ServicePool {
  readonly service: string;
  readonly #settings: PoolSettings;
  #endpoints: Endpoint[] = [];
  readonly #byId = new Map<string, Endpoint>();
  readonly #subscriptions = new Map<Endpoint, Disposable>();
  #state: ResolverState | undefined;
  #mode = EMPTY;
  /** Endpoints whose breaker is not closed (open, forced open, half-open). */
  #unhealthy = 0;
  #ejected = 0;
  #cursor = 0;
  #seed = (Math.random() * 0x7fffffff) | 1;
  #returnTimer: NodeJS.Timeout | undefined;
  #readyResolve: (() => void) | undefined;
  readonly #ready: Promise<void>;
  #closed = false;
  readonly #onEjection = new EventEmitter<EjectionEvent>();
  /** Fires when an endpoint is ejected or returns. */
  readonly onEjection: Event<EjectionEvent> = this.#onEjection.event;

  constructor(service: string, settings: PoolSettings) {
    this.service = service;
    this.#settings = settings;
    this.#ready = new Promise((resolve) => (this.#readyResolve = resolve));
  }

  /** The routing mode now. */
  get mode(): PoolMode {
    return MODES[this.#mode]!;
  }

  /** Live endpoints (a copy). */
  get endpoints(): Endpoint[] {
    return [...this.#endpoints];
  }

  /** True once the resolver has answered (with instances or an error). */
  get resolved(): boolean {
    return this.#state !== undefined;
  }

  /**
   * Waits for the resolver's first answer, at most until `deadline` or `signal`. Never
   * rejects: a call that proceeds without an answer fails with `NO_ENDPOINTS`.
   */
  async ready(deadline?: Deadline, signal?: AbortSignal): Promise<void> {
    if (this.#state !== undefined || this.#closed) return;
    const remaining = deadline === undefined ? Infinity : deadline.remaining();
    if (remaining <= 0 || signal?.aborted === true) return;
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    await Promise.race([
      this.#ready,
      new Promise<void>((resolve) => {
        if (remaining !== Infinity) timer = setTimeout(resolve, remaining);
        onAbort = resolve;
        signal?.addEventListener('abort', onAbort, { once: true });
      }),
    ]);
    clearTimeout(timer);
    if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort);
  }

  /**
   * Picks an endpoint for the next attempt, preferring one other than `avoid` (the
   * endpoint the previous attempt failed on). Undefined when none can take the call:
   * {@link unavailableError} says why.
   */
  pick(avoid?: Endpoint): Endpoint | undefined {
    const list = this.#endpoints;
    const n = list.length;
    if (n <= 1) {
      const only = list[0];
      return only !== undefined && this.#usable(only) ? only : undefined;
    }
    let first: number;
    if (this.#settings.balancer === 'p2c') {
      first = this.#random() % n;
      let second = this.#random() % (n - 1);
      if (second >= first) second++;
      const a = list[first]!;
      const b = list[second]!;
      const useA = a !== avoid && this.#usable(a);
      const useB = b !== avoid && this.#usable(b);
      if (useA && useB) return this.#better(a, b);
      if (useA) return a;
      if (useB) return b;
    } else {
      first = this.#cursor;
      this.#cursor = first + 1 >= n ? 0 : first + 1;
    }
    // The draw missed (or round-robin): the first usable endpoint from there on.
    for (let k = 0; k < n; k++) {
      let i = first + k;
      if (i >= n) i -= n;
      const e = list[i]!;
      if (e !== avoid && this.#usable(e)) {
        if (this.#settings.balancer === 'round-robin') this.#cursor = i + 1 >= n ? 0 : i + 1;
        return e;
      }
    }
    return avoid !== undefined && avoid.index !== -1 && this.#usable(avoid) ? avoid : undefined;
  }

  /** Why `pick()` found nothing: `NO_ENDPOINTS`, or `CIRCUIT_OPEN` when every endpoint is failing. */
  unavailableError(): LifelineError {
    if (this.#endpoints.length === 0) {
      const state = this.#state;
      const why =
        state === undefined
          ? `the ${this.#settings.source} resolver has not answered yet`
          : state.error === undefined
            ? `the ${this.#settings.source} resolver lists no instance`
            : `${state.error.message}`;
      return new LifelineError('NO_ENDPOINTS', `${this.service}: no endpoints: ${why}`, { retryable: false, service: this.service });
    }
    let retryAfter: number | undefined;
    for (const e of this.#endpoints) {
      const wait = e.breaker.snapshot().halfOpenInMs;
      if (wait !== undefined && (retryAfter === undefined || wait < retryAfter)) retryAfter = wait;
    }
    return new CircuitOpenError(
      this.service,
      `${this.service}: circuit open: all ${this.#endpoints.length} endpoints are failing`,
      retryAfter === undefined ? undefined : Math.ceil(retryAfter),
    );
  }

  /**
   * An attempt is being sent to `endpoint`: counts it in flight and returns the breaker
   * ticket to report its outcome with, or -1 when it goes around the breaker (a failing
   * endpoint routed to anyway, in panic mode or beyond the ejection cap).
   */
  begin(endpoint: Endpoint): number {
    endpoint.inFlight++;
    endpoint.requests++;
    if (endpoint.failing) return -1;
    if (!endpoint.probing) return endpoint.breaker.acquire();
    try {
      return endpoint.breaker.acquire();
    } catch {
      return -1;
    }
  }

  /** The attempt got its response headers (or a response that is not a failure) after `latencyMs`. */
  succeeded(endpoint: Endpoint, ticket: number, latencyMs: number): void {
    endpoint.inFlight--;
    endpoint.observe(latencyMs, this.#settings.clock.now(), this.#settings.ewmaDecayMs);
    if (ticket !== -1) endpoint.breaker.success(ticket, latencyMs);
  }

  /** The attempt failed (5xx, connection failure, timeout) after `latencyMs`. */
  failed(endpoint: Endpoint, ticket: number, latencyMs: number, error: unknown): void {
    endpoint.inFlight--;
    endpoint.failures++;
    endpoint.observe(latencyMs, this.#settings.clock.now(), this.#settings.ewmaDecayMs);
    if (ticket !== -1) endpoint.breaker.failure(ticket, latencyMs, error);
  }

  /** The caller gave up on the attempt: it says nothing about the endpoint. */
  cancelled(endpoint: Endpoint, ticket: number): void {
    endpoint.inFlight--;
    if (ticket !== -1) endpoint.breaker.cancel(ticket);
  }

  snapshot(): PoolSnapshot {
    this.#wake();
    const state = this.#state;
    return {
      service: this.service,
      source: this.#settings.source,
      mode: this.mode,
      stale: state?.stale ?? false,
      error: state?.error?.message,
      ageMs: state?.updatedAt === undefined ? undefined : Math.max(0, Date.now() - state.updatedAt),
      healthy: this.#endpoints.length - this.#unhealthy,
      ejected: this.#ejected,
      endpoints: this.#endpoints.map((e) => e.snapshot()),
    };
  }

  /** Applies a resolver update: endpoints whose instance id stays keep their state. @internal */
  update(state: ResolverState): void {
    if (this.#closed) return;
    this.#state = state;
    const next: Endpoint[] = [];
    const keep = new Set<Endpoint>();
    const ids = new Set<string>();
    for (const instance of state.instances) {
      if (ids.has(instance.id)) continue; // a repeated id in one answer: the first wins
      ids.add(instance.id);
      let endpoint = this.#byId.get(instance.id);
      if (endpoint !== undefined && endpoint.instance.host === instance.host && endpoint.instance.port === instance.port) {
        endpoint.instance = instance; // metadata may have changed
      } else {
        endpoint = this.#add(instance); // new, or the same id at a new address
      }
      keep.add(endpoint);
      endpoint.index = next.length;
      next.push(endpoint);
    }
    for (const endpoint of this.#endpoints) if (!keep.has(endpoint)) this.#remove(endpoint);
    this.#byId.clear();
    for (const endpoint of next) this.#byId.set(endpoint.id, endpoint);
    const hadEndpoints = this.#endpoints.length > 0;
    this.#endpoints = next;
    this.#cursor = 0;
    this.#recount();
    this.#reconcileEjections();
    if (hadEndpoints && next.length === 0) {
      this.#settings.logger?.warn({ service: this.service, error: state.error?.message }, 'discovery: no endpoints left');
    }
    this.#readyResolve?.();
    this.#readyResolve = undefined;
  }

  /** @internal */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#returnTimer);
    for (const s of this.#subscriptions.values()) s.dispose();
    this.#subscriptions.clear();
    this.#readyResolve?.();
  }

  /**
   * A 31-bit xorshift draw. Math.random() returns a double that V8 boxes when pick() is not
   * inlined into its caller — about 30 bytes of garbage per pick; integer state allocates nothing.
   */
  #random(): number {
    let x = this.#seed;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#seed = x;
    return x >>> 1;
  }

  #usable(e: Endpoint): boolean {
    if (e.forced) return false;
    switch (this.#mode) {
      case NORMAL:
        return !e.ejected && (!e.probing || e.breaker.allowsCalls);
      case PANIC:
        return true;
      case OPEN:
        return e.probing && e.breaker.allowsCalls;
      default:
        return false;
    }
  }

  #better(a: Endpoint, b: Endpoint): Endpoint {
    if (a.inFlight !== b.inFlight) return a.inFlight < b.inFlight ? a : b;
    if (a.ewma === b.ewma) return a;
    // A latency sample older than the decay says little: let the endpoint be tried again.
    const stale = this.#settings.clock.now() - this.#settings.ewmaDecayMs;
    const la = a.sampledAt < stale ? 0 : a.ewma;
    const lb = b.sampledAt < stale ? 0 : b.ewma;
    return lb < la ? b : a;
  }

  #add(instance: Instance): Endpoint {
    const breaker = new CircuitBreaker({
      ...this.#settings.breaker,
      name: `${this.service}@${hostPort(instance.host, instance.port)}`,
      clock: this.#settings.clock,
    });
    const endpoint = new Endpoint(instance, breaker, this.#settings.scheme);
    this.#subscriptions.set(
      endpoint,
      breaker.onStateChange((change) => this.#onBreaker(endpoint, change)),
    );
    return endpoint;
  }

  #remove(endpoint: Endpoint): void {
    endpoint.index = -1;
    this.#subscriptions.get(endpoint)?.dispose();
    this.#subscriptions.delete(endpoint);
    if (endpoint.ejected) {
      endpoint.ejected = false;
      this.#emit(endpoint, false, undefined);
    }
  }

  #onBreaker(endpoint: Endpoint, change: StateChange): void {
    if (endpoint.index === -1) return;
    const to = change.to;
    endpoint.forced = to === 'forced-open';
    endpoint.failing = to === 'open' || to === 'forced-open';
    endpoint.probing = to === 'half-open';
    if (endpoint.probing) {
      // Its latency was measured while it failed: start afresh so the balancer lets the probes through.
      endpoint.ewma = 0;
      endpoint.sampledAt = 0;
    }
    if (!endpoint.failing && endpoint.ejected) {
      endpoint.ejected = false;
      this.#settings.logger?.info(
        { service: this.service, endpoint: endpoint.id, breaker: to },
        to === 'half-open' ? 'discovery: endpoint back on probation' : 'discovery: endpoint returned',
      );
      this.#emit(endpoint, false, undefined);
    }
    this.#recount();
    this.#reconcileEjections();
  }

  /** Counts unhealthy and ejected endpoints and sets the routing mode. */
  #recount(): void {
    let unhealthy = 0;
    let ejected = 0;
    for (const e of this.#endpoints) {
      if (e.failing || e.probing) unhealthy++;
      if (e.ejected) ejected++;
    }
    this.#unhealthy = unhealthy;
    this.#ejected = ejected;
    const n = this.#endpoints.length;
    const healthy = n - unhealthy;
    const mode = n === 0 ? EMPTY : healthy === 0 ? OPEN : healthy < this.#settings.panicThreshold * n ? PANIC : NORMAL;
    if (mode !== this.#mode && (mode === PANIC || this.#mode === PANIC || mode === OPEN || this.#mode === OPEN)) {
      this.#settings.logger?.warn(
        { service: this.service, from: MODES[this.#mode], to: MODES[mode], healthy, endpoints: n },
        mode === PANIC ? 'discovery: panic mode, routing to every endpoint' : mode === OPEN ? 'discovery: every endpoint is failing' : 'discovery: routing mode changed',
      );
    }
    this.#mode = mode;
  }

  /** Ejects failing endpoints up to the cap (at most `maxEjectionRatio`, never the last one). */
  #reconcileEjections(): void {
    const n = this.#endpoints.length;
    const cap = Math.min(Math.floor(this.#settings.maxEjectionRatio * n), n - 1);
    if (this.#ejected > cap) {
      for (const e of this.#endpoints) {
        if (this.#ejected <= cap) break;
        if (e.ejected) {
          e.ejected = false;
          this.#ejected--;
          this.#emit(e, false, undefined);
        }
      }
    }
    for (const e of this.#endpoints) {
      if (this.#ejected >= cap) break;
      if (e.failing && !e.ejected) {
        e.ejected = true;
        e.ejections++;
        this.#ejected++;
        const duration = e.breaker.snapshot().halfOpenInMs;
        this.#settings.logger?.warn(
          { service: this.service, endpoint: e.id, ejections: e.ejections, durationMs: duration },
          'discovery: endpoint ejected',
        );
        this.#emit(e, true, duration);
      }
    }
    this.#scheduleReturn();
  }

  /** One timer for the whole pool, at the earliest end of a break, to move that breaker to half-open. */
  #scheduleReturn(): void {
    clearTimeout(this.#returnTimer);
    this.#returnTimer = undefined;
    if (this.#closed) return;
    let soonest = Infinity;
    for (const e of this.#endpoints) {
      if (!e.failing || e.forced) continue;
      const wait = e.breaker.snapshot().halfOpenInMs;
      if (wait !== undefined && wait < soonest) soonest = wait;
    }
    if (soonest === Infinity) return;
    this.#returnTimer = setTimeout(() => this.#wake(), Math.max(1, Math.ceil(soonest)));
    this.#returnTimer.unref();
  }

  /** Lets breakers whose break is over move to half-open (their state change event does the rest). */
  #wake(): void {
    let moved = false;
    for (const e of this.#endpoints) {
      if (e.failing && !e.forced && e.breaker.state !== 'open') moved = true;
    }
    if (!moved) this.#scheduleReturn();
  }

  #emit(endpoint: Endpoint, ejected: boolean, durationMs: number | undefined): void {
    if (!this.#onEjection.hasListeners) return;
    this.#onEjection.emit({
      service: this.service,
      endpoint: endpoint.id,
      address: hostPort(endpoint.instance.host, endpoint.instance.port),
      ejected,
      ejections: endpoint.ejections,
      durationMs,
    });
  }
}

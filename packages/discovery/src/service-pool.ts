import { CircuitBreaker, type StateChange } from '@lifeline/breaker';
import type { Deadline, Disposable, Event, LifelineError } from '@lifeline/core';
import { ANY_FAILING, AttemptFilter, AVAILABLE, NOT_EJECTED } from './attempt-filter.ts';
import type { Balancer } from './balancer.ts';
import { boundedWait } from './bounded-wait.ts';
import { Ejector } from './ejector.ts';
import { Endpoint } from './endpoint.ts';
import { HealthProber } from './health-prober.ts';
import { hostPort, type Instance, type ResolverState } from './instance.ts';
import { P2CBalancer } from './p2c-balancer.ts';
import type { EjectionEvent, PoolMode, PoolSettings, PoolSnapshot } from './pool-types.ts';
import { RoundRobinBalancer } from './round-robin-balancer.ts';
import { unavailableError } from './unavailable-error.ts';

const NORMAL = 0;
const PANIC = 1;
const OPEN = 2;
const EMPTY = 3;
const MODES: readonly PoolMode[] = ['normal', 'panic', 'open', 'empty'];

/**
 * The live endpoints of one service and the balancer over them.
 *
 * Each endpoint has its own circuit breaker, fed by the outcome of every attempt sent to
 * it; an open breaker marks the endpoint an outlier, and the pool ejects it until the
 * breaker's break ends and half-open probes decide. A breaker that keeps failing takes
 * longer breaks (`breakMultiplier`, `breakMemoryMs`), so repeated ejections last longer, up
 * to `maxBreakDuration`. While a breaker is open, the pool checks the endpoint's health route
 * in the background (`healthCheck`), and a 2xx ends the break at once: the breaker goes
 * half-open and its probes decide, so a recovered endpoint returns within about one check
 * interval rather than when a break that grew during the fault ends.
 *
 * Routing never prefers a failing endpoint. An attempt goes, in this order, to:
 * 1. a healthy endpoint (or a probing one with a free probe slot) the call has not failed
 *    on — the balancer chooses among these, and only these, on the common path;
 * 2. a failing endpoint the ejection cap (`maxEjectionRatio`) kept in rotation;
 * 3. in panic mode (healthy share below `panicThreshold`), an ejected endpoint;
 * 4. when the call has already failed on every endpoint that could take it, the best of
 *    those again, in the same order.
 * In `open` mode (no healthy endpoint) only step 1's probes go through.
 *
 * `pick()` is O(1) and allocates nothing on the common path: the pool keeps the healthy
 * endpoints in their own list, rebuilt on each breaker transition, so the balancer (P2C by
 * default, see {@link P2CBalancer}) draws only among them.
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
  /** Healthy and probing endpoints (not forced open): what the balancer draws from. */
  #available: Endpoint[] = [];
  /** Failing endpoints (open, not forced): a last resort. */
  #failing: Endpoint[] = [];
  readonly #balancer: Balancer;
  readonly #filter: AttemptFilter;
  readonly #ejector: Ejector;
  readonly #prober: HealthProber | undefined;
  /** The endpoint whose break a health check is ending now, so its return says why. */
  #endingBreak: Endpoint | undefined;
  #readyResolve: (() => void) | undefined;
  readonly #ready: Promise<void>;
  #closed = false;
  /**
   * Fires when an endpoint is ejected or returns (also published on the diagnostics channels
   * `lifeline:discovery:eject` and `lifeline:discovery:return`).
   */
  readonly onEjection: Event<EjectionEvent>;

  constructor(service: string, settings: PoolSettings) {
    this.service = service;
    this.#settings = settings;
    const balancer = settings.balancer;
    this.#balancer = balancer === 'p2c' ? new P2CBalancer() : balancer === 'round-robin' ? new RoundRobinBalancer() : balancer;
    this.#filter = new AttemptFilter(settings.ewmaDecayMs);
    this.#ejector = new Ejector(service, settings.maxEjectionRatio, settings.logger, () => this.#endpoints);
    this.onEjection = this.#ejector.onEjection;
    const healthCheck = settings.healthCheck;
    this.#prober =
      healthCheck === undefined ? undefined : new HealthProber(healthCheck, settings.scheme, settings.clock, () => this.#endpoints, (e) => this.#checkedHealthy(e));
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
    await boundedWait(this.#ready, deadline, signal);
  }

  /**
   * Picks an endpoint for the next attempt, avoiding `avoid`: the endpoint the call's
   * previous attempt failed on, or the set of every endpoint it failed on (so a retry never
   * goes back to one while another can take it). Undefined when none can take the call:
   * {@link unavailableError} says why.
   *
   * @example
   * const failedOn = new Set<Endpoint>();
   * let endpoint = pool.pick();           // first attempt: nothing to avoid
   * // … it failed:
   * failedOn.add(endpoint!);
   * endpoint = pool.pick(failedOn);       // a retry: elsewhere while another endpoint can take it
   */
  pick(avoid?: Endpoint | ReadonlySet<Endpoint>): Endpoint | undefined {
    const filter = this.#filter;
    filter.begin(avoid);
    let chosen = this.#balancer.pick(this.#available, filter);
    if (chosen === undefined) chosen = this.#lastResort(filter);
    filter.end();
    return chosen;
  }

  /**
   * No healthy endpoint will take the attempt: a failing one the cap kept in rotation, an
   * ejected one in panic mode, and when the call has failed on every endpoint that could
   * take it, the best of those again.
   */
  #lastResort(filter: AttemptFilter): Endpoint | undefined {
    const mode = this.#mode;
    const balancer = this.#balancer;
    for (;;) {
      if ((mode === NORMAL || mode === PANIC) && this.#failing.length > 0) {
        filter.tier = NOT_EJECTED;
        let chosen = balancer.pick(this.#failing, filter);
        if (chosen === undefined && mode === PANIC) {
          filter.tier = ANY_FAILING;
          chosen = balancer.pick(this.#failing, filter);
        }
        if (chosen !== undefined) return chosen;
      }
      if (!filter.avoiding) return undefined;
      filter.avoiding = false;
      filter.tier = AVAILABLE;
      const chosen = balancer.pick(this.#available, filter);
      if (chosen !== undefined) return chosen;
    }
  }

  /** Why `pick()` found nothing: `NO_ENDPOINTS`, or `CIRCUIT_OPEN` when every endpoint is failing. */
  unavailableError(): LifelineError {
    return unavailableError(this.service, this.#settings.source, this.#endpoints, this.#state, this.#settings.healthCheck?.intervalMs);
  }

  /**
   * An attempt is being sent to `endpoint`: counts it in flight and returns the breaker
   * ticket to report its outcome with, or -1 when it goes around the breaker (a failing
   * endpoint taken as a last resort, or a probing one whose slots are taken).
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
    const now = this.#settings.clock.now();
    this.#filter.record(now);
    endpoint.observe(latencyMs, now, this.#settings.ewmaDecayMs);
    if (ticket !== -1) endpoint.breaker.success(ticket, latencyMs);
  }

  /**
   * The attempt failed (5xx, connection failure, timeout) after `latencyMs`. The failure
   * counts as a latency penalty of at least the breaker's slow-call threshold, never as the
   * (often tiny) time it took to fail: see {@link Endpoint.penalize}.
   */
  failed(endpoint: Endpoint, ticket: number, latencyMs: number, error: unknown): void {
    endpoint.inFlight--;
    endpoint.failures++;
    const now = this.#settings.clock.now();
    this.#filter.record(now);
    endpoint.penalize(latencyMs, now, this.#settings.failurePenaltyMs);
    if (ticket !== -1) endpoint.breaker.failure(ticket, latencyMs, error);
  }

  /**
   * The attempt's answer was lost on the way back (the connection closed after the request
   * was sent), and a retry of the keyed call was answered with the stored response
   * (`idempotent-replayed`): the endpoint did the work. Its breaker counts a success — the
   * endpoint is not failing, its answers are being lost — and the balancer a failure's
   * latency penalty, for the attempt there cost the call a retry: of two endpoints, the one
   * losing answers still loses the comparison.
   */
  answerLost(endpoint: Endpoint, ticket: number, latencyMs: number): void {
    endpoint.inFlight--;
    const now = this.#settings.clock.now();
    this.#filter.record(now);
    endpoint.penalize(latencyMs, now, this.#settings.failurePenaltyMs);
    if (ticket !== -1) endpoint.breaker.success(ticket, latencyMs);
  }

  /** The caller gave up on the attempt: it says nothing about the endpoint. */
  cancelled(endpoint: Endpoint, ticket: number): void {
    endpoint.inFlight--;
    if (ticket !== -1) endpoint.breaker.cancel(ticket);
  }

  snapshot(): PoolSnapshot {
    this.#ejector.wake();
    const state = this.#state;
    return {
      service: this.service,
      source: this.#settings.source,
      balancer: this.#balancer.name,
      mode: this.mode,
      stale: state?.stale ?? false,
      error: state?.error?.message,
      ageMs: state?.updatedAt === undefined ? undefined : Math.max(0, Date.now() - state.updatedAt),
      healthy: this.#endpoints.length - this.#unhealthy,
      ejected: this.#ejector.count,
      healthChecks: this.#prober === undefined ? false : { sent: this.#prober.sent, healthy: this.#prober.healthy },
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
    this.#recount();
    this.#ejector.reconcile();
    this.#prober?.schedule();
    if (hadEndpoints && next.length === 0) {
      this.#settings.logger?.warn({ service: this.service, error: state.error?.message }, 'discovery: no endpoints left');
    }
    this.#readyResolve?.();
    this.#readyResolve = undefined;
  }

  /** @internal */
  close(): void {
    this.#closed = true;
    this.#ejector.close();
    this.#prober?.close();
    for (const s of this.#subscriptions.values()) s.dispose();
    this.#subscriptions.clear();
    this.#readyResolve?.();
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
    this.#ejector.removed(endpoint);
  }

  #onBreaker(endpoint: Endpoint, change: StateChange): void {
    if (endpoint.index === -1) return;
    const to = change.to;
    endpoint.forced = to === 'forced-open';
    endpoint.failing = to === 'open' || to === 'forced-open';
    endpoint.probing = to === 'half-open';
    if (endpoint.failing) endpoint.openedBecause = change.reason;
    if (to === 'open') this.#prober?.opened(endpoint);
    // Its latency was measured while it failed: start afresh so the balancer lets the probes through.
    if (endpoint.probing) endpoint.resetLatency();
    if (!endpoint.failing) this.#ejector.returned(endpoint, this.#endingBreak === endpoint ? 'health-check' : change.reason, to);
    this.#recount();
    this.#ejector.reconcile();
    this.#prober?.schedule();
  }

  /** A health check of `endpoint` answered 2xx: its break ends now, and half-open probes decide. */
  #checkedHealthy(endpoint: Endpoint): void {
    if (endpoint.index === -1 || !endpoint.failing || endpoint.forced) return; // removed, or moved on meanwhile
    this.#endingBreak = endpoint;
    try {
      endpoint.breaker.endBreak();
    } finally {
      this.#endingBreak = undefined;
    }
  }

  /** Counts unhealthy endpoints, sorts them into the balancer's lists, and sets the routing mode. */
  #recount(): void {
    let unhealthy = 0;
    const available: Endpoint[] = [];
    const failing: Endpoint[] = [];
    for (const e of this.#endpoints) {
      if (e.failing || e.probing) unhealthy++;
      if (!e.forced) (e.failing ? failing : available).push(e);
    }
    this.#unhealthy = unhealthy;
    this.#available = available;
    this.#failing = failing;
    const n = this.#endpoints.length;
    const healthy = n - unhealthy;
    const mode = n === 0 ? EMPTY : healthy === 0 ? OPEN : healthy < this.#settings.panicThreshold * n ? PANIC : NORMAL;
    if (mode !== this.#mode && (mode === PANIC || this.#mode === PANIC || mode === OPEN || this.#mode === OPEN)) {
      this.#settings.logger?.warn(
        { service: this.service, from: MODES[this.#mode], to: MODES[mode], healthy, endpoints: n },
        mode === PANIC ? 'discovery: panic mode, ejected endpoints are a last resort' : mode === OPEN ? 'discovery: every endpoint is failing' : 'discovery: routing mode changed',
      );
    }
    this.#mode = mode;
  }
}

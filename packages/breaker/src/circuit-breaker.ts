import {
  checkDuration,
  checkFunction,
  checkInteger,
  checkNumber,
  checkRatio,
  EventEmitter,
  SlidingCounts,
  systemClock,
  withoutStack,
  type Clock,
  type Event,
  type ExecuteOptions,
  type PolicyContext, checkOptionNames, optionNames
} from '@lifeline/core';
import type { Breaker, BreakerSnapshot, BreakerState, StateChange, TransitionReason } from './breaker.ts';
import { CircuitOpenError } from './circuit-open-error.ts';
import { stateChannel } from './diagnostics.ts';

export interface CircuitBreakerOptions {
  /** Names the breaker in errors, events and snapshots. Default `breaker`. */
  name?: string;
  /** Open when failures / calls in the window reach this. Default 0.5. */
  failureRatio?: number;
  /** …once the window holds at least this many calls. Never 0: one failure is not a trend. Default 20. */
  minimumCalls?: number;
  /** The sliding window, ms. Default 10 000. */
  windowMs?: number;
  /** Buckets the window is divided into. Default 10. */
  buckets?: number;
  /** Open after this many failures in a row, whatever the window says; `Infinity` turns it off. Default 5. */
  consecutiveFailures?: number;
  /** A success slower than this counts as a failure (resilience4j's slow-call rate). Default: off. */
  slowCallMs?: number;
  /** The first break (open → half-open), ms. Default 5 000. */
  breakDuration?: number;
  /** Each failed probe multiplies the break by this… Default 2. */
  breakMultiplier?: number;
  /** …up to this, ms. Default 60 000. */
  maxBreakDuration?: number;
  /**
   * A breaker that opens again within this long of closing takes a longer break (the last
   * one × `breakMultiplier`, capped) instead of the first: a flapping dependency (or an
   * ejected endpoint that keeps failing soon after it returns) is kept out longer each
   * time. Default 0: every open from closed takes the first break.
   */
  breakMemoryMs?: number;
  /** Probe calls admitted at once while half-open. Default 3. */
  halfOpenProbes?: number;
  /** Successful probes needed to close. Default: `halfOpenProbes`. */
  successesToClose?: number;
  /** Which errors count as failures (e.g. not a 404). Default: every error. */
  isFailure?: (error: unknown) => boolean;
  clock?: Clock;
}

const BREAKER_OPTIONS = optionNames<CircuitBreakerOptions>({ name: true, failureRatio: true, minimumCalls: true, windowMs: true, buckets: true, consecutiveFailures: true, slowCallMs: true, breakDuration: true, breakMultiplier: true, maxBreakDuration: true, breakMemoryMs: true, halfOpenProbes: true, successesToClose: true, isFailure: true, clock: true });


/**
 * A circuit breaker. Closed, it counts outcomes over a sliding window and opens on either
 * trigger: a failure ratio once `minimumCalls` is reached, or `consecutiveFailures` in a
 * row; slow successes count as failures. Open, it fails calls fast with `CIRCUIT_OPEN`
 * (no stack captured) until the break ends; then half-open, it admits up to
 * `halfOpenProbes` probes at once, closes after `successesToClose` successes, and re-opens
 * on a failed probe with a longer break (× `breakMultiplier`, capped).
 *
 * It holds no timer: the window rotates and the break ends lazily, when the breaker is
 * next used or asked for a snapshot. Results of calls admitted before the last transition
 * are ignored — they describe a state that no longer holds.
 *
 * Low-level use: `const t = breaker.acquire()` (throws `CIRCUIT_OPEN`), then exactly one of
 * `success(t, ms)`, `failure(t, ms, error)` or `cancel(t)`. Or `execute(fn)`.
 *
 * @example
 * const breaker = new CircuitBreaker({ name: 'payment', failureRatio: 0.5, minimumCalls: 20 });
 * breaker.onStateChange(({ from, to, reason }) => log.warn({ from, to, reason }, 'breaker'));
 * const charge = await breaker.execute(() => payment.post('/charges', { json }));
 */
export class CircuitBreaker implements Breaker {
  readonly name: string;
  readonly #failureRatio: number;
  readonly #minimumCalls: number;
  readonly #consecutiveLimit: number;
  readonly #slowCallMs: number;
  readonly #baseBreak: number;
  readonly #multiplier: number;
  readonly #maxBreak: number;
  readonly #breakMemory: number;
  readonly #halfOpenProbes: number;
  readonly #successesToClose: number;
  readonly #isFailure: (error: unknown) => boolean;
  readonly #clock: Clock;
  /** Calls (first) and failures (second) over the window. */
  readonly #window: SlidingCounts;
  #state: BreakerState = 'closed';
  /** Bumped on every transition; a ticket from an older generation is ignored. */
  #generation = 0;
  #consecutive = 0;
  #openUntil = 0;
  #break: number;
  /** When probes last closed the breaker (for `breakMemoryMs`). */
  #closedAt = -Infinity;
  #probesInFlight = 0;
  #probeSuccesses = 0;
  readonly #onStateChange = new EventEmitter<StateChange>();
  /** Fires on every transition (also published on diagnostics channel `lifeline:breaker:state`). */
  readonly onStateChange: Event<StateChange> = this.#onStateChange.event;

  constructor(options: CircuitBreakerOptions = {}) {
    checkOptionNames('breaker', options, BREAKER_OPTIONS);
    this.name = options.name ?? 'breaker';
    this.#failureRatio = checkRatio('breaker.failureRatio', options.failureRatio ?? 0.5);
    if (this.#failureRatio === 0) throw new RangeError('lifeline: option `breaker.failureRatio` must be > 0, got 0');
    this.#minimumCalls = checkInteger('breaker.minimumCalls', options.minimumCalls ?? 20, 1);
    const windowMs = checkDuration('breaker.windowMs', options.windowMs ?? 10_000);
    if (windowMs === 0) throw new RangeError('lifeline: option `breaker.windowMs` must be > 0, got 0');
    const buckets = checkInteger('breaker.buckets', options.buckets ?? 10, 1, 1_000);
    const consecutive = options.consecutiveFailures ?? 5;
    this.#consecutiveLimit = consecutive === Infinity ? Infinity : checkInteger('breaker.consecutiveFailures', consecutive, 1);
    this.#slowCallMs = checkDuration('breaker.slowCallMs', options.slowCallMs ?? Infinity, true);
    this.#baseBreak = checkDuration('breaker.breakDuration', options.breakDuration ?? 5_000);
    this.#multiplier = checkNumber('breaker.breakMultiplier', options.breakMultiplier ?? 2, 1);
    this.#maxBreak = checkDuration('breaker.maxBreakDuration', options.maxBreakDuration ?? 60_000);
    if (this.#maxBreak < this.#baseBreak) {
      throw new RangeError(`lifeline: option \`breaker.maxBreakDuration\` must be >= breakDuration (${this.#baseBreak}), got ${this.#maxBreak}`);
    }
    this.#breakMemory = checkDuration('breaker.breakMemoryMs', options.breakMemoryMs ?? 0, true);
    this.#halfOpenProbes = checkInteger('breaker.halfOpenProbes', options.halfOpenProbes ?? 3, 1);
    this.#successesToClose = checkInteger('breaker.successesToClose', options.successesToClose ?? this.#halfOpenProbes, 1);
    this.#isFailure = checkFunction('breaker.isFailure', options.isFailure ?? (() => true));
    this.#clock = options.clock ?? systemClock;
    this.#window = new SlidingCounts(windowMs, buckets, this.#clock);
    this.#break = this.#baseBreak;
  }

  get state(): BreakerState {
    this.#maybeHalfOpen();
    return this.#state;
  }

  /**
   * Admits a call or throws `CIRCUIT_OPEN`. Returns a ticket to report the outcome with.
   */
  acquire(): number {
    const state = this.#state;
    if (state === 'closed' || state === 'disabled') return this.#generation;
    if (state === 'forced-open') throw this.#openError(undefined);
    if (state === 'open' && !this.#maybeHalfOpen()) throw this.#openError(this.#openUntil - this.#clock.now());
    // Half-open: a bounded number of probes at once.
    if (this.#probesInFlight >= this.#halfOpenProbes) throw this.#openError(undefined);
    this.#probesInFlight++;
    return this.#generation;
  }

  /** True when `acquire()` would admit a call now (does not take a probe). */
  get allowsCalls(): boolean {
    const state = this.state;
    return state === 'closed' || state === 'disabled' || (state === 'half-open' && this.#probesInFlight < this.#halfOpenProbes);
  }

  /** Reports a success; one slower than `slowCallMs` counts as a failure. */
  success(ticket: number, durationMs = 0): void {
    this.#record(ticket, durationMs >= this.#slowCallMs);
  }

  /** Reports a failure, unless `isFailure(error)` says it is not one (then a success). */
  failure(ticket: number, durationMs = 0, error?: unknown): void {
    this.#record(ticket, error === undefined || this.#isFailure(error) || durationMs >= this.#slowCallMs);
  }

  /** The call ended with no verdict (the caller gave up): frees its probe slot, counts nothing. */
  cancel(ticket: number): void {
    if (ticket === this.#generation && this.#state === 'half-open' && this.#probesInFlight > 0) this.#probesInFlight--;
  }

  /**
   * Runs `fn` through the breaker.
   *
   * @example await breaker.execute(({ signal }) => fetch(url, { signal }), { signal });
   */
  async execute<T>(fn: (context: PolicyContext) => PromiseLike<T> | T, options: ExecuteOptions = {}): Promise<T> {
    const ticket = this.acquire();
    const started = this.#clock.now();
    let result: T;
    try {
      result = await fn({ attempt: 1, signal: options.signal, deadline: options.deadline });
    } catch (error) {
      this.failure(ticket, this.#clock.now() - started, error);
      throw error;
    }
    this.success(ticket, this.#clock.now() - started);
    return result;
  }

  /**
   * Ends the break now: an open breaker moves to half-open at once, and its probes decide as
   * when the break elapses (success closes it; a failure re-opens it with the longer break).
   * For a caller that learns out of band that the dependency is back — an active health
   * check — so recovery need not wait out a break that grew while the dependency failed.
   * The transition's reason is `break-elapsed`. Does nothing unless the breaker is open
   * (never lifts `forceOpen()`). True when it moved.
   *
   * @example
   * if (breaker.state === 'open' && (await healthCheck()).ok) breaker.endBreak();
   */
  endBreak(): boolean {
    if (this.#state !== 'open') return false;
    this.#transition('half-open', 'break-elapsed');
    return true;
  }

  /** Operator override: fail every call until `reset()`. */
  forceOpen(): void {
    this.#transition('forced-open', 'forced-open');
  }

  /** Operator override: admit every call and record nothing until `reset()`. */
  disable(): void {
    this.#transition('disabled', 'disabled');
  }

  /** Back to closed with an empty window and the first break duration. */
  reset(): void {
    this.#break = this.#baseBreak;
    this.#closedAt = -Infinity;
    this.#transition('closed', 'reset');
  }

  snapshot(): BreakerSnapshot {
    this.#maybeHalfOpen();
    return this.#snapshot();
  }

  /** The state as it stands, without moving it (a transition reports from inside itself). */
  #snapshot(): BreakerSnapshot {
    this.#window.rotate();
    return {
      name: this.name,
      state: this.#state,
      calls: this.#window.first,
      failures: this.#window.second,
      consecutiveFailures: this.#consecutive,
      halfOpenInMs: this.#state === 'open' ? Math.max(0, this.#openUntil - this.#clock.now()) : undefined,
      breakDuration: this.#state === 'closed' ? this.#breakFromClosed() : this.#break,
      probesInFlight: this.#probesInFlight,
      probeSuccesses: this.#probeSuccesses,
    };
  }

  #record(ticket: number, failed: boolean): void {
    if (ticket !== this.#generation) return;
    switch (this.#state) {
      case 'closed': {
        const window = this.#window;
        window.add(1, failed ? 1 : 0);
        this.#consecutive = failed ? this.#consecutive + 1 : 0;
        if (!failed) return;
        if (this.#consecutive >= this.#consecutiveLimit) this.#open('consecutive-failures');
        else if (window.first >= this.#minimumCalls && window.second >= this.#failureRatio * window.first) this.#open('failure-ratio');
        return;
      }
      case 'half-open':
        if (this.#probesInFlight > 0) this.#probesInFlight--;
        if (failed) {
          this.#break = Math.min(this.#maxBreak, this.#break * this.#multiplier);
          this.#open('probe-failed');
        } else if (++this.#probeSuccesses >= this.#successesToClose) {
          this.#closedAt = this.#clock.now();
          this.#transition('closed', 'probes-succeeded');
        }
        return;
      default:
        return;
    }
  }

  #open(reason: TransitionReason): void {
    if (this.#state === 'closed') this.#break = this.#breakFromClosed();
    this.#openUntil = this.#clock.now() + this.#break;
    this.#transition('open', reason);
  }

  /** The break an open from closed takes: the first, unless it closed only moments ago (flapping). */
  #breakFromClosed(): number {
    return this.#clock.now() - this.#closedAt < this.#breakMemory ? Math.min(this.#maxBreak, this.#break * this.#multiplier) : this.#baseBreak;
  }

  /** Moves open → half-open when the break is over. True when calls may be probed now. */
  #maybeHalfOpen(): boolean {
    if (this.#state !== 'open' || this.#clock.now() < this.#openUntil) return this.#state === 'half-open';
    this.#transition('half-open', 'break-elapsed');
    return true;
  }

  #transition(to: BreakerState, reason: TransitionReason): void {
    const from = this.#state;
    this.#state = to;
    this.#generation++;
    this.#probesInFlight = 0;
    this.#probeSuccesses = 0;
    if (to === 'closed' || to === 'open') {
      this.#consecutive = 0;
      this.#window.reset();
    }
    if (this.#onStateChange.hasListeners || stateChannel.hasSubscribers) {
      const change: StateChange = { name: this.name, from, to, reason, snapshot: this.#snapshot() };
      this.#onStateChange.emit(change);
      if (stateChannel.hasSubscribers) stateChannel.publish(change);
    }
  }

  #openError(retryAfterMs: number | undefined): CircuitOpenError {
    const state = this.#state;
    return withoutStack(
      () =>
        new CircuitOpenError(
          this.name,
          state === 'half-open' ? `${this.name}: circuit half-open, probes in flight` : `${this.name}: circuit ${state}`,
          retryAfterMs === undefined ? undefined : Math.max(0, Math.ceil(retryAfterMs)),
        ),
    );
  }
}

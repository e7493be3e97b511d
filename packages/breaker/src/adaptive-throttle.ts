import {
  checkFunction,
  checkInteger,
  checkNumber,
  checkOptionNames,
  checkString,
  optionNames,
  SlidingCounts,
  systemClock,
  withoutStack,
  type Clock,
  type ExecuteOptions,
  type PolicyContext,
} from '@lifeline/core';
import { ThrottledError } from './throttled-error.ts';

export interface AdaptiveThrottleOptions {
  /** The dependency's name, as the `THROTTLED` error calls it. Default `throttle`. */
  name?: string;
  /**
   * How many attempts may be made per accepted one before local rejection starts, ≥ 1.
   * Default 2: up to twice what the dependency accepts still reaches it, so it can be seen to
   * recover; lower is more aggressive (1.1 sends about 10 % above what it accepts).
   */
  k?: number;
  /**
   * Length of the sliding window, ms: how much history the ratio is taken over. Default 5 000:
   * an outage is rejected at ≥ 90 % after about 0.9 window (4.5 s), and with the default cap
   * nothing is rejected about 1.65 windows (8–9 s) after the dependency is back.
   */
  windowMs?: number;
  /** Buckets the window is divided into. Default 10 (500 ms each with the default window). */
  buckets?: number;
  /**
   * Requests in the window below which nothing is rejected, so that a few failures of a
   * quiet client are never turned into local rejections. Default 10: with the 5 s window, a
   * client below 2 attempts/s is left alone.
   */
  minRequests?: number;
  /**
   * The most the rejection probability can be, above 0 and at most 1 (no cap). Default 0.9.
   * Below 1, at least `1 − maxRejectionProbability` of the attempts reach the dependency
   * even while it accepts none, so once it is back the throttle sees it at once and rejects
   * nothing after about 1.65 windows (0.9, K = 2); uncapped, about one attempt per window
   * gets through and recovery from a total outage takes 4–5 windows. 0.9 (failsafe-go's
   * default) sends a dead dependency a tenth of the offered load; 0.8 (Envoy's) recovers
   * about a fifth sooner for twice that.
   */
  maxRejectionProbability?: number;
  /** For `execute()`: whether a failure still counts as accepted (an application error, not overload). Default: none does. */
  isAccepted?: (error: unknown) => boolean;
  clock?: Clock;
  /** A source of uniform numbers in [0, 1). Default `Math.random`; seed one for a simulation. */
  random?: () => number;
}

const THROTTLE_OPTIONS = optionNames<AdaptiveThrottleOptions>({
  name: true,
  k: true,
  windowMs: true,
  buckets: true,
  minRequests: true,
  maxRejectionProbability: true,
  isAccepted: true,
  clock: true,
  random: true,
});

/** An adaptive throttle's state, as plain JSON. */
export interface AdaptiveThrottleSnapshot {
  /** Attempts over the window: those sent (once their outcome is known) and those rejected locally. */
  requests: number;
  /** Attempts the dependency accepted over the window. */
  accepts: number;
  /** The probability the next attempt is rejected locally, 0–1. */
  rejectionProbability: number;
  /** Attempts rejected locally since the throttle was made. */
  rejected: number;
  k: number;
  windowMs: number;
  maxRejectionProbability: number;
}

const never = (): boolean => false;

/**
 * Client-side adaptive throttling, as the Google SRE book describes it ("Handling Overload"):
 * over a sliding window the client counts `requests` (attempts it made, including those it
 * rejected itself) and `accepts` (attempts the dependency accepted), and rejects a new
 * attempt locally with probability
 *
 *     max(0, (requests − K × accepts) / (requests + 1))
 *
 * While the dependency accepts at least 1/K of the attempts the probability is 0 — a healthy
 * dependency is never throttled. Once it accepts less, the attempts that still reach it
 * settle near K × accepts: the rest fail here, at no cost to it, instead of being sent to
 * be refused.
 *
 * Why a cap (`maxRejectionProbability`, as Envoy's admission control and failsafe-go's
 * AdaptiveThrottler have): the attempts rejected here count as requests, so with nothing
 * accepted the formula tends to requests / (requests + 1) and about one attempt per window
 * goes through — 1 ≈ p is a fixed point the dependency's recovery escapes only slowly,
 * the first accept waiting on that one attempt and what gets through then growing about
 * fivefold per window (K = 2): (W / K) ln(requests per window), 4–5 windows after a total
 * outage (bench/throttle.ts: 37–46 s with a 10 s window at 20–200 attempts/s). Capped at c,
 * at least (1 − c) of the attempts are sent whatever happens, so a dependency that is back is
 * seen at once; the accepts reach the point where the formula falls below the cap after
 * W / K and the probability is 0 after about (W / K)(1 + ln(1 / (1 − c))): 1.65 windows for
 * c = 0.9, K = 2 (bench: 8–9 s with the default 5 s window). The price is that a dependency that is down
 * still receives (1 − c) of the offered load, and the K × accepts regime holds only while it
 * accepts at least (1 − c) / K of what is offered (5 % for c = 0.9, K = 2) — below that the
 * cap, not K, sets what reaches it.
 *
 * An open breaker fails a dependency whole after a trigger; the throttle is proportional,
 * and keyed to overload (a 503 or 429 is not accepted, a 500 is: the request was taken and
 * processed). The caller decides what "accepted" means by what it reports.
 *
 * Per attempt: `tryAcquire()` before sending (false: rejected, already counted), then
 * `record(accepted)` with the outcome. Both are O(1), allocate nothing, and set no timer;
 * while the probability is 0 `tryAcquire()` is two comparisons (no clock read, no random
 * draw), and `record()` one clock read and four additions (~47 ns the pair on Node 24).
 *
 * @example
 * const throttle = new AdaptiveThrottle({ name: 'search', k: 2, windowMs: 5_000, maxRejectionProbability: 0.9 });
 * if (!throttle.tryAcquire()) throw throttle.rejection();
 * const response = await fetch('http://search:8080/q?term=lifeline');
 * throttle.record(response.status !== 429 && response.status !== 503);
 */
export class AdaptiveThrottle {
  readonly name: string;
  readonly k: number;
  readonly windowMs: number;
  readonly minRequests: number;
  readonly maxRejectionProbability: number;
  /** Attempts rejected locally since the throttle was made. */
  rejected = 0;
  /** The probability the last rejected attempt was rejected with. */
  #lastProbability = 0;
  readonly #bucketMs: number;
  /** Requests (first) and accepts (second) over the window. */
  readonly #window: SlidingCounts;
  readonly #random: () => number;
  readonly #isAccepted: (error: unknown) => boolean;
  readonly #clock: Clock;

  constructor(options: AdaptiveThrottleOptions = {}) {
    checkOptionNames('throttle', options, THROTTLE_OPTIONS);
    this.name = checkString('throttle.name', options.name ?? 'throttle');
    this.k = checkNumber('throttle.k', options.k ?? 2, 1);
    if (this.k === Infinity) throw new RangeError('lifeline: option `throttle.k` must be finite, got Infinity');
    this.windowMs = checkNumber('throttle.windowMs', options.windowMs ?? 5_000, 1);
    if (this.windowMs === Infinity) throw new RangeError('lifeline: option `throttle.windowMs` must be a finite number of milliseconds, got Infinity');
    const buckets = checkInteger('throttle.buckets', options.buckets ?? 10, 1, 1_000);
    this.minRequests = checkInteger('throttle.minRequests', options.minRequests ?? 10, 0);
    this.maxRejectionProbability = checkNumber('throttle.maxRejectionProbability', options.maxRejectionProbability ?? 0.9, 0, 1);
    if (this.maxRejectionProbability === 0) {
      throw new RangeError('lifeline: option `throttle.maxRejectionProbability` must be above 0 (0 would never reject: use `throttle: false`), got 0');
    }
    this.#random = options.random === undefined ? Math.random : checkFunction('throttle.random', options.random);
    this.#isAccepted = options.isAccepted === undefined ? never : checkFunction('throttle.isAccepted', options.isAccepted);
    this.#clock = options.clock ?? systemClock;
    this.#bucketMs = this.windowMs / buckets;
    this.#window = new SlidingCounts(this.windowMs, buckets, this.#clock);
  }

  /** The probability the next attempt is rejected locally, 0–1. */
  get rejectionProbability(): number {
    this.#window.rotate();
    return this.#probability();
  }

  /**
   * Decides one attempt: true to send it (then report its outcome with {@link record}),
   * false when it is rejected locally — already counted as a request that was not accepted.
   */
  tryAcquire(): boolean {
    // The counts as of the last outcome first: while they give 0 — a healthy dependency — the
    // attempt goes without reading the clock. Buckets that slid out since could only raise
    // the probability by taking old accepts away, and the next outcome rotates them out; a
    // probability above 0 is always taken from the window as it is now (an idle client's old
    // rejections are gone).
    let p = this.#probability();
    if (p === 0) return true;
    const window = this.#window;
    window.rotate();
    p = this.#probability();
    if (p === 0 || this.#random() >= p) return true;
    window.add(1, 0);
    this.rejected++;
    this.#lastProbability = p;
    return false;
  }

  /** Counts a sent attempt: `accepted` when the dependency took it (it was not refused for overload). */
  record(accepted: boolean): void {
    this.#window.add(1, accepted ? 1 : 0);
  }

  /** The error the attempt {@link tryAcquire} just rejected fails with: `THROTTLED`, no stack, not retryable. */
  rejection(): ThrottledError {
    const p = this.#lastProbability;
    return withoutStack(() => new ThrottledError(this.name, p, this.#retryAfterMs()));
  }

  /**
   * Runs `fn` unless the throttle rejects it (then `THROTTLED`); its success is an accept, its
   * failure is not (unless `isAccepted` says so).
   *
   * @example
   * const rows = await throttle.execute(() => db.query('select 1'));
   */
  async execute<T>(fn: (context: PolicyContext) => PromiseLike<T> | T, options: ExecuteOptions = {}): Promise<T> {
    if (!this.tryAcquire()) throw this.rejection();
    let result: T;
    try {
      result = await fn({ attempt: 1, signal: options.signal, deadline: options.deadline });
    } catch (error) {
      this.record(this.#isAccepted(error));
      throw error;
    }
    this.record(true);
    return result;
  }

  /** Forgets every count, as after a deployment of the dependency. */
  reset(): void {
    this.#window.reset();
  }

  snapshot(): AdaptiveThrottleSnapshot {
    const window = this.#window;
    window.rotate();
    return {
      requests: window.first,
      accepts: window.second,
      rejectionProbability: this.#probability(),
      rejected: this.rejected,
      k: this.k,
      windowMs: this.windowMs,
      maxRejectionProbability: this.maxRejectionProbability,
    };
  }

  #probability(): number {
    const window = this.#window;
    const requests = window.first;
    if (requests < this.minRequests) return 0;
    const p = (requests - this.k * window.second) / (requests + 1);
    if (p <= 0) return 0;
    return p < this.maxRejectionProbability ? p : this.maxRejectionProbability;
  }

  /** Until the current bucket ends: the earliest the window, and so the probability, moves on its own. */
  #retryAfterMs(): number {
    const bucketMs = this.#bucketMs;
    const left = bucketMs - (this.#clock.now() % bucketMs);
    return Math.max(1, Math.ceil(left));
  }
}

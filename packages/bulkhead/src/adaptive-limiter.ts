import {
  checkDuration,
  checkInteger,
  checkNumber,
  checkOptionNames,
  checkString,
  isLifelineError,
  optionNames,
  systemClock,
  type Clock,
  type CoarseTimer,
  type Event,
  type ExecuteOptions,
  type PolicyContext,
} from '@lifeline/core';
import { Bulkhead, type BulkheadRejection, type BulkheadSnapshot } from './bulkhead.ts';
import type { LeaseOutcome, Limiter } from './limiter.ts';

export interface AdaptiveLimiterOptions {
  /** Names the limiter in rejection events and on the `lifeline:bulkhead:reject` channel. Default `adaptive-limiter`. */
  name?: string;
  /** The limit before anything is measured. Default 20. */
  initialLimit?: number;
  /** The lowest the limit goes. Default 20, or `initialLimit` when that is lower. */
  minLimit?: number;
  /** The highest the limit goes. Default 200, or `initialLimit` when that is higher. */
  maxLimit?: number;
  /** How much of each new estimate the limit takes, in (0, 1]. Default 0.2. */
  smoothing?: number;
  /** How far the short-term latency may rise over the long-term one before the limit shrinks (≥ 1). Default 1.5. */
  rttTolerance?: number;
  /** Samples (one per window) the long-term latency is averaged over. Default 600. */
  longWindow?: number;
  /**
   * The shortest window, ms: a window ends once it holds `max(10, limit)` leases and lasted
   * this long. With the default 1 000 the long-term latency spans about ten minutes. Default 1 000.
   */
  minWindowMs?: number;
  /** What the limit is multiplied by after a window with a dropped lease, in (0, 1). Default 0.9. */
  backoffRatio?: number;
  /** Calls allowed to wait for a slot. 0 means fail at once when full. Default 200. */
  maxQueue?: number;
  /** Longest wait for a slot, ms; a call's own deadline may cut it shorter. Default: the deadline only. */
  maxQueueWait?: number;
  /** Share the owner's timer (a client's) instead of creating one. */
  timer?: CoarseTimer;
  clock?: Clock;
}

/** @internal The names {@link AdaptiveLimiterOptions} allows. */
export const ADAPTIVE_LIMITER_OPTIONS = optionNames<AdaptiveLimiterOptions>({
  name: true,
  initialLimit: true,
  minLimit: true,
  maxLimit: true,
  smoothing: true,
  rttTolerance: true,
  longWindow: true,
  minWindowMs: true,
  backoffRatio: true,
  maxQueue: true,
  maxQueueWait: true,
  timer: true,
  clock: true,
});

/** An adaptive limiter's state, as plain JSON: `maxConcurrent` is the current limit. */
export interface AdaptiveLimiterSnapshot extends BulkheadSnapshot {
  minLimit: number;
  maxLimit: number;
  /** Mean latency of a lease over the last window, ms (0 before the first). */
  rttMs: number;
  /** The long-term average of those, ms: the latency the limit treats as normal. */
  longRttMs: number;
}

/** Samples averaged plainly before the long-term latency becomes an exponential average. */
const WARMUP = 10;
const AREA = 0;
const SINCE = 1;
const START = 2;
/** The fewest leases a window holds, so that a small limit is not adjusted on two samples. */
const MIN_WINDOW = 10;

/**
 * A concurrency limit that follows measured latency (Netflix concurrency-limits' Gradient2):
 * it grows while leases take as long as they usually do, and shrinks when they start taking
 * longer — when more concurrency only adds queueing at the dependency (or in this process)
 * instead of throughput. Otherwise it behaves like a {@link Bulkhead}: a FIFO queue bounded by
 * `maxQueue`, `maxQueueWait`, the call's deadline and its signal, and `BULKHEAD_REJECTED`.
 *
 * Each window — at least `max(10, limit)` released leases, about one round trip of the whole
 * limit, and at least `minWindowMs` — gives one latency sample: the mean time a lease was held, by Little's law the area under
 * the in-flight count divided by the leases given back. No lease carries a start time, so
 * `release()` takes no token and any `Limiter` caller (the client) measures correctly; the hot
 * path is a counter, a clock read and a multiply-add (≈ 80 ns for the pair, most of it the two
 * `performance.now()` reads; `bench/limiters.ts`), with no allocation and no timer. At the
 * end of a window, with `long` the exponential average of the samples over `longWindow`:
 *
 *     gradient = clamp(rttTolerance × long / sample, 0.5, 1)
 *     limit    = (1 − smoothing) × limit + smoothing × (limit × gradient + √limit)
 *
 * so the limit grows by √limit per window while latency stays within the tolerance, and
 * falls by at most half per window when it does not. It does not grow while fewer than half
 * its slots were used (the caller, not the dependency, is the limit). A window in which a
 * lease was released `dropped` (it timed out or was given up) multiplies the limit by
 * `backoffRatio` instead, and is kept out of the long-term latency.
 *
 * The long-term latency follows lasting change: latency that stays higher (a dependency that
 * became slower for good) becomes the new normal over about `longWindow` windows, and the limit
 * grows back; a brief rise only shrinks the limit while it lasts.
 *
 * @example
 * const limiter = new AdaptiveLimiter({ initialLimit: 20, maxLimit: 200 });
 * const client = createClient({ baseUrl: 'http://inventory:8080', bulkhead: limiter });
 */
export class AdaptiveLimiter implements Limiter {
  readonly name: string;
  readonly minLimit: number;
  readonly maxLimit: number;
  readonly #smoothing: number;
  readonly #tolerance: number;
  readonly #longFactor: number;
  readonly #backoff: number;
  readonly #minWindowMs: number;
  readonly #clock: Clock;
  readonly #slots: Bulkhead;
  #estimate: number;
  #windowSize: number;
  /**
   * The window's running sums, in a typed array so that updating them stores a double in place
   * (a double in an object field can be boxed anew on every write): at AREA the lease-
   * milliseconds held since the window began (the area under the in-flight count), at SINCE
   * the time of the last change in flight, at START when the window began.
   */
  readonly #sums = new Float64Array(3);
  #released = 0;
  #peak = 0;
  #dropped = false;
  #rtt = 0;
  #longRtt = 0;
  #samples = 0;
  /** Fires on every rejection, with the reason (also published on diagnostics channel `lifeline:bulkhead:reject`). */
  readonly onRejected: Event<BulkheadRejection>;

  /** @param prefix @internal How option names appear in errors (`shedding.adaptive` for the server's). */
  constructor(options: AdaptiveLimiterOptions = {}, prefix = 'adaptiveLimiter') {
    checkOptionNames(prefix, options, ADAPTIVE_LIMITER_OPTIONS);
    this.name = options.name === undefined ? 'adaptive-limiter' : checkString(`${prefix}.name`, options.name);
    const initial = checkInteger(`${prefix}.initialLimit`, options.initialLimit ?? 20);
    this.minLimit = checkInteger(`${prefix}.minLimit`, options.minLimit ?? Math.min(20, initial), 1, initial);
    this.maxLimit = checkInteger(`${prefix}.maxLimit`, options.maxLimit ?? Math.max(200, initial), initial);
    this.#smoothing = checkNumber(`${prefix}.smoothing`, options.smoothing ?? 0.2, Number.MIN_VALUE, 1);
    this.#tolerance = checkNumber(`${prefix}.rttTolerance`, options.rttTolerance ?? 1.5, 1);
    this.#longFactor = 2 / (checkInteger(`${prefix}.longWindow`, options.longWindow ?? 600) + 1);
    this.#backoff = checkNumber(`${prefix}.backoffRatio`, options.backoffRatio ?? 0.9, Number.MIN_VALUE, 1);
    this.#minWindowMs = checkDuration(`${prefix}.minWindowMs`, options.minWindowMs ?? 1_000);
    if (this.#backoff === 1) throw new RangeError(`lifeline: option \`${prefix}.backoffRatio\` must be below 1, got 1`);
    this.#clock = options.clock ?? systemClock;
    this.#slots = new Bulkhead({
      name: this.name,
      maxConcurrent: initial,
      maxQueue: checkInteger(`${prefix}.maxQueue`, options.maxQueue ?? 200, 0),
      maxQueueWait: checkDuration(`${prefix}.maxQueueWait`, options.maxQueueWait ?? Infinity, true),
      ...(options.timer === undefined ? {} : { timer: options.timer }),
      clock: this.#clock,
    });
    this.onRejected = this.#slots.onRejected;
    this.#estimate = initial;
    this.#windowSize = Math.max(MIN_WINDOW, initial);
    this.#sums[SINCE] = this.#sums[START] = this.#clock.now();
  }

  /** The current limit: calls allowed in flight at once. */
  get limit(): number {
    return this.#slots.maxConcurrent;
  }

  /** Calls holding a slot. */
  get inFlight(): number {
    return this.#slots.inFlight;
  }

  /** Calls waiting for a slot. */
  get queued(): number {
    return this.#slots.queued;
  }

  /** Takes a slot if one is free under the current limit; never waits. Pair a `true` with `release()`. */
  tryAcquire(): boolean {
    const slots = this.#slots;
    if (!slots.tryAcquire()) return false;
    const inFlight = slots.inFlight;
    this.#advance(inFlight - 1);
    if (inFlight > this.#peak) this.#peak = inFlight;
    return true;
  }

  /** Waits for a slot (FIFO), or rejects with `BULKHEAD_REJECTED`. Pair with `release()`. */
  acquire(options: ExecuteOptions = {}): Promise<void> {
    if (this.tryAcquire()) return Promise.resolve();
    // A waiter's lease begins when a release (or a higher limit) hands it the slot; both are counted there.
    return this.#slots.acquire(options);
  }

  /**
   * Gives a slot back and counts the lease's time towards the current window; `dropped` when
   * the work timed out or was given up, which shrinks the limit.
   */
  release(outcome: LeaseOutcome = 'success'): void {
    const slots = this.#slots;
    this.#advance(slots.inFlight);
    if (outcome === 'dropped') this.#dropped = true;
    slots.release();
    if (++this.#released >= this.#windowSize && this.#sums[SINCE]! - this.#sums[START]! >= this.#minWindowMs) this.#sample();
  }

  /**
   * @internal Gives a slot back as `release()` does, dropped when it comes at or after
   * `deadlineAt` (on this limiter's clock): the clock read that times the lease decides it, so
   * a caller that holds a deadline (the server's admission) reads no clock of its own.
   */
  releaseBy(deadlineAt: number): void {
    const slots = this.#slots;
    this.#advance(slots.inFlight);
    if (this.#sums[SINCE]! >= deadlineAt) this.#dropped = true;
    slots.release();
    if (++this.#released >= this.#windowSize && this.#sums[SINCE]! - this.#sums[START]! >= this.#minWindowMs) this.#sample();
  }

  /**
   * Runs `fn` in a slot, releasing it when `fn` settles; a deadline or attempt timeout
   * (`DEADLINE_EXCEEDED`, `ATTEMPT_TIMEOUT`, a `TimeoutError`) releases it as dropped.
   *
   * @example await limiter.execute(({ signal }) => fetch(url, { signal }), { deadline: Deadline.after(2_000) });
   */
  async execute<T>(fn: (context: PolicyContext) => PromiseLike<T> | T, options: ExecuteOptions = {}): Promise<T> {
    if (!this.tryAcquire()) await this.acquire(options);
    let outcome: LeaseOutcome = 'success';
    try {
      return await fn({ attempt: 1, signal: options.signal, deadline: options.deadline });
    } catch (error) {
      if (timedOut(error)) outcome = 'dropped';
      throw error;
    } finally {
      this.release(outcome);
    }
  }

  snapshot(): AdaptiveLimiterSnapshot {
    return { ...this.#slots.snapshot(), minLimit: this.minLimit, maxLimit: this.maxLimit, rttMs: this.#rtt, longRttMs: this.#longRtt };
  }

  /** Rejects every waiter with reason `closed`, refuses new calls, and stops its own timer. */
  close(): void {
    this.#slots.close();
  }

  /** Adds the lease time held since the last change, `inFlight` being the count over that time. */
  #advance(inFlight: number): void {
    const sums = this.#sums;
    const now = this.#clock.now();
    sums[AREA]! += inFlight * (now - sums[SINCE]!);
    sums[SINCE] = now;
  }

  #sample(): void {
    const sums = this.#sums;
    const rtt = sums[AREA]! / this.#released;
    const peak = this.#peak;
    const dropped = this.#dropped;
    sums[AREA] = 0;
    sums[START] = sums[SINCE]!;
    this.#released = 0;
    this.#dropped = false;
    this.#peak = this.#slots.inFlight;
    if (dropped) {
      this.#set(this.#estimate * this.#backoff);
      return;
    }
    if (!(rtt > 0)) return;
    this.#rtt = rtt;
    let long: number;
    if (this.#samples < WARMUP) long = this.#longRtt + (rtt - this.#longRtt) / ++this.#samples;
    else long = this.#longRtt + (rtt - this.#longRtt) * this.#longFactor;
    // After a long overload the average sits far above what latency came back to: pull it down
    // faster than the average alone would, or the limit would tolerate that old latency for long.
    if (long > 2 * rtt) long *= 0.95;
    this.#longRtt = long;
    const estimate = this.#estimate;
    if (peak < estimate / 2) return;
    const gradient = Math.max(0.5, Math.min(1, (this.#tolerance * long) / rtt));
    const target = estimate * gradient + Math.sqrt(estimate);
    this.#set(estimate * (1 - this.#smoothing) + target * this.#smoothing);
  }

  #set(estimate: number): void {
    this.#estimate = Math.max(this.minLimit, Math.min(this.maxLimit, estimate));
    const limit = Math.floor(this.#estimate);
    const slots = this.#slots;
    if (limit === slots.maxConcurrent) return;
    slots.resize(limit); // may hand slots to waiters: their time counts from now
    this.#windowSize = Math.max(MIN_WINDOW, limit);
    if (slots.inFlight > this.#peak) this.#peak = slots.inFlight;
  }
}

function timedOut(error: unknown): boolean {
  return (
    isLifelineError(error, 'DEADLINE_EXCEEDED') ||
    isLifelineError(error, 'ATTEMPT_TIMEOUT') ||
    (error instanceof Error && error.name === 'TimeoutError')
  );
}

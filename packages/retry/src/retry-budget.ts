import { checkDuration, checkInteger, checkNumber, checkRatio, EventEmitter, systemClock, type Clock, type Event } from '@lifeline/core';

export interface RetryBudgetOptions {
  /** Retries allowed per request in the window, 0–1. Default 0.2 (20 %). */
  ratio?: number;
  /** Length of the sliding window, ms. Default 10 000. */
  windowMs?: number;
  /** Retries always allowed per second, whatever the traffic, so a quiet client can still retry. Default 10. */
  minRetriesPerSecond?: number;
  /** Buckets the window is divided into; more is smoother. Default 10. */
  buckets?: number;
  clock?: Clock;
}

/** A retry budget's state, as plain JSON. */
export interface RetryBudgetSnapshot {
  requests: number;
  retries: number;
  /** Retries the window allows in total: ratio × requests + floor. */
  allowed: number;
  /** Retries still available now. */
  available: number;
  exhausted: boolean;
}

/**
 * A retry budget as Finagle and Linkerd define it: over a sliding window, retries may
 * be at most `ratio × requests + minRetriesPerSecond × window seconds`. Unlike a fixed
 * attempt count, it bounds the *extra load* retries put on a dependency: when it is down,
 * every caller's retries together add at most 20 %, instead of tripling the traffic into
 * a service that is trying to recover (the retry storm).
 *
 * Each logical request calls `recordRequest()` once; each retry asks `tryAcquire()`. An
 * exhausted budget answers `false` at once — it never makes the caller wait.
 *
 * @example
 * const budget = new RetryBudget({ ratio: 0.2, windowMs: 10_000, minRetriesPerSecond: 10 });
 * budget.recordRequest();
 * if (!budget.tryAcquire()) throw new Error('retry budget exhausted');
 */
export class RetryBudget {
  readonly ratio: number;
  readonly windowMs: number;
  readonly #floor: number;
  readonly #bucketMs: number;
  readonly #clock: Clock;
  readonly #requests: Float64Array;
  readonly #retries: Float64Array;
  #requestSum = 0;
  #retrySum = 0;
  #bucket: number;
  #exhausted = false;
  readonly #onExhausted = new EventEmitter<RetryBudgetSnapshot>();
  readonly #onRecovered = new EventEmitter<RetryBudgetSnapshot>();

  /** Fires when a retry is first refused (once per exhaustion, not per refusal). */
  readonly onExhausted: Event<RetryBudgetSnapshot> = this.#onExhausted.event;
  /** Fires when a retry is allowed again after an exhaustion. */
  readonly onRecovered: Event<RetryBudgetSnapshot> = this.#onRecovered.event;

  constructor(options: RetryBudgetOptions = {}) {
    this.ratio = checkRatio('retry.budget.ratio', options.ratio ?? 0.2);
    this.windowMs = checkDuration('retry.budget.windowMs', options.windowMs ?? 10_000);
    if (this.windowMs === 0) throw new RangeError('lifeline: option `retry.budget.windowMs` must be > 0, got 0');
    const perSecond = checkNumber('retry.budget.minRetriesPerSecond', options.minRetriesPerSecond ?? 10, 0);
    const buckets = checkInteger('retry.budget.buckets', options.buckets ?? 10, 1, 1_000);
    this.#floor = (perSecond * this.windowMs) / 1_000;
    this.#bucketMs = this.windowMs / buckets;
    this.#clock = options.clock ?? systemClock;
    this.#requests = new Float64Array(buckets);
    this.#retries = new Float64Array(buckets);
    this.#bucket = Math.floor(this.#clock.now() / this.#bucketMs);
  }

  /** Counts one logical request (not its retries). */
  recordRequest(): void {
    this.#rotate();
    this.#requests[this.#bucket % this.#requests.length]! += 1;
    this.#requestSum += 1;
  }

  /** Takes one retry from the budget; false when none is left. Never waits. */
  tryAcquire(): boolean {
    this.#rotate();
    if (this.#retrySum + 1 > this.#allowed()) {
      if (!this.#exhausted) {
        this.#exhausted = true;
        if (this.#onExhausted.hasListeners) this.#onExhausted.emit(this.snapshot());
      }
      return false;
    }
    this.#retries[this.#bucket % this.#retries.length]! += 1;
    this.#retrySum += 1;
    if (this.#exhausted) {
      this.#exhausted = false;
      if (this.#onRecovered.hasListeners) this.#onRecovered.emit(this.snapshot());
    }
    return true;
  }

  snapshot(): RetryBudgetSnapshot {
    this.#rotate();
    const allowed = this.#allowed();
    return {
      requests: this.#requestSum,
      retries: this.#retrySum,
      allowed,
      available: Math.max(0, Math.floor(allowed - this.#retrySum)),
      exhausted: this.#exhausted,
    };
  }

  #allowed(): number {
    return this.ratio * this.#requestSum + this.#floor;
  }

  /** Drops the buckets that slid out of the window since the last call. */
  #rotate(): void {
    const bucket = Math.floor(this.#clock.now() / this.#bucketMs);
    if (bucket === this.#bucket) return;
    const n = this.#requests.length;
    const stale = Math.min(n, bucket - this.#bucket);
    for (let i = 1; i <= stale; i++) {
      const index = (this.#bucket + i) % n;
      this.#requestSum -= this.#requests[index]!;
      this.#retrySum -= this.#retries[index]!;
      this.#requests[index] = 0;
      this.#retries[index] = 0;
    }
    this.#bucket = bucket;
    // Sums of small integers stay exact, but guard against drift all the same.
    if (this.#requestSum < 0.5) this.#requestSum = 0;
    if (this.#retrySum < 0.5) this.#retrySum = 0;
  }
}

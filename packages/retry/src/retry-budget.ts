import {
  checkDuration,
  checkInteger,
  checkNumber,
  checkRatio,
  EventEmitter,
  SlidingCounts,
  systemClock,
  type Clock,
  type Event, checkOptionNames, optionNames
} from '@lifeline/core';

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

const BUDGET_OPTIONS = optionNames<RetryBudgetOptions>({ ratio: true, windowMs: true, minRetriesPerSecond: true, buckets: true, clock: true });


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
  /** Requests (first) and retries (second) over the window. */
  readonly #window: SlidingCounts;
  #exhausted = false;
  readonly #onExhausted = new EventEmitter<RetryBudgetSnapshot>();
  readonly #onRecovered = new EventEmitter<RetryBudgetSnapshot>();

  /** Fires when a retry is first refused (once per exhaustion, not per refusal). */
  readonly onExhausted: Event<RetryBudgetSnapshot> = this.#onExhausted.event;
  /** Fires when a retry is allowed again after an exhaustion. */
  readonly onRecovered: Event<RetryBudgetSnapshot> = this.#onRecovered.event;

  constructor(options: RetryBudgetOptions = {}) {
    checkOptionNames('retry.budget', options, BUDGET_OPTIONS);
    this.ratio = checkRatio('retry.budget.ratio', options.ratio ?? 0.2);
    this.windowMs = checkDuration('retry.budget.windowMs', options.windowMs ?? 10_000);
    if (this.windowMs === 0) throw new RangeError('lifeline: option `retry.budget.windowMs` must be > 0, got 0');
    const perSecond = checkNumber('retry.budget.minRetriesPerSecond', options.minRetriesPerSecond ?? 10, 0);
    const buckets = checkInteger('retry.budget.buckets', options.buckets ?? 10, 1, 1_000);
    this.#floor = (perSecond * this.windowMs) / 1_000;
    this.#window = new SlidingCounts(this.windowMs, buckets, options.clock ?? systemClock);
  }

  /** Counts one logical request (not its retries). */
  recordRequest(): void {
    this.#window.add(1, 0);
  }

  /** Takes one retry from the budget; false when none is left. Never waits. */
  tryAcquire(): boolean {
    const window = this.#window;
    window.rotate();
    if (window.second + 1 > this.#allowed()) {
      if (!this.#exhausted) {
        this.#exhausted = true;
        if (this.#onExhausted.hasListeners) this.#onExhausted.emit(this.snapshot());
      }
      return false;
    }
    window.add(0, 1);
    if (this.#exhausted) {
      this.#exhausted = false;
      if (this.#onRecovered.hasListeners) this.#onRecovered.emit(this.snapshot());
    }
    return true;
  }

  snapshot(): RetryBudgetSnapshot {
    const window = this.#window;
    window.rotate();
    const allowed = this.#allowed();
    return {
      requests: window.first,
      retries: window.second,
      allowed,
      available: Math.max(0, Math.floor(allowed - window.second)),
      exhausted: this.#exhausted,
    };
  }

  #allowed(): number {
    return this.ratio * this.#window.first + this.#floor;
  }
}

import { checkDuration, checkFunction, checkNumber, checkOneOf, checkOptionNames, optionNames } from '@lifeline/core';

/**
 * How long to wait before a retry. `next(retry, previous)` gets the retry number (1 for
 * the first retry) and the delay used before it (0 the first time), and returns ms.
 */
export interface Backoff {
  next(retry: number, previous: number): number;
}

export interface ExponentialBackoffOptions {
  /** Delay scale of the first retry, ms. Default 100. */
  base?: number;
  /** Upper bound on any delay, ms. Default 5000. */
  cap?: number;
  /** Growth per retry. Default 2. */
  factor?: number;
  /**
   * `full` (default): a uniform draw in [0, min(cap, base·factorⁿ⁻¹)) — AWS's "full jitter",
   * which spreads a crowd of clients retrying at once the most. `none`: the exponential value.
   */
  jitter?: 'full' | 'none';
  /** Source of randomness in [0, 1), for tests. */
  random?: () => number;
}

const EXPONENTIAL_OPTIONS = optionNames<ExponentialBackoffOptions>({ base: true, cap: true, factor: true, jitter: true, random: true });


/**
 * Capped exponential backoff with full jitter.
 *
 * @example
 * const backoff = new ExponentialBackoff({ base: 100, cap: 5_000 });
 * backoff.next(3, 0); // somewhere in [0, 400)
 */
export class ExponentialBackoff implements Backoff {
  readonly #base: number;
  readonly #cap: number;
  readonly #factor: number;
  readonly #full: boolean;
  readonly #random: () => number;

  constructor(options: ExponentialBackoffOptions = {}) {
    checkOptionNames('backoff', options, EXPONENTIAL_OPTIONS);
    this.#base = checkDuration('backoff.base', options.base ?? 100);
    this.#cap = checkDuration('backoff.cap', options.cap ?? 5_000);
    this.#factor = checkNumber('backoff.factor', options.factor ?? 2, 1);
    this.#full = checkOneOf('backoff.jitter', options.jitter ?? 'full', ['full', 'none']) === 'full';
    this.#random = checkFunction('backoff.random', options.random ?? Math.random);
  }

  next(retry: number, _previous?: number): number {
    const ceiling = Math.min(this.#cap, this.#base * this.#factor ** Math.max(0, retry - 1));
    return this.#full ? this.#random() * ceiling : ceiling;
  }
}

export interface DecorrelatedJitterBackoffOptions {
  /** Smallest delay, ms. Default 100. */
  base?: number;
  /** Upper bound on any delay, ms. Default 5000. */
  cap?: number;
  random?: () => number;
}

const DECORRELATED_OPTIONS = optionNames<DecorrelatedJitterBackoffOptions>({ base: true, cap: true, random: true });


/**
 * AWS's "decorrelated jitter": each delay is a uniform draw in [base, previous × 3),
 * capped. Grows like exponential backoff on average, but each client's sequence wanders on
 * its own, which keeps retries from re-synchronising.
 *
 * @example
 * const backoff = new DecorrelatedJitterBackoff({ base: 100, cap: 5_000 });
 * let delay = 0;
 * for (let retry = 1; retry <= 3; retry++) delay = backoff.next(retry, delay);
 */
export class DecorrelatedJitterBackoff implements Backoff {
  readonly #base: number;
  readonly #cap: number;
  readonly #random: () => number;

  constructor(options: DecorrelatedJitterBackoffOptions = {}) {
    checkOptionNames('backoff', options, DECORRELATED_OPTIONS);
    this.#base = checkDuration('backoff.base', options.base ?? 100);
    this.#cap = checkDuration('backoff.cap', options.cap ?? 5_000);
    if (this.#cap < this.#base) {
      throw new RangeError(`lifeline: option \`backoff.cap\` must be >= backoff.base (${this.#base}), got ${this.#cap}`);
    }
    this.#random = checkFunction('backoff.random', options.random ?? Math.random);
  }

  next(_retry: number, previous: number): number {
    const from = this.#base;
    const to = Math.max(from, (previous > 0 ? previous : from) * 3);
    return Math.min(this.#cap, from + this.#random() * (to - from));
  }
}

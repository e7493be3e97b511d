import type { Clock } from '@lifeline/core';

/**
 * Call and failure counts over a sliding time window, in buckets rotated lazily on access:
 * no timer at all, so ten thousand breakers cost ten thousand small arrays, not ten
 * thousand intervals.
 *
 * @internal
 */
export class SlidingWindow {
  readonly #bucketMs: number;
  readonly #clock: Clock;
  readonly #calls: Uint32Array;
  readonly #failures: Uint32Array;
  #bucket: number;
  calls = 0;
  failures = 0;

  constructor(windowMs: number, buckets: number, clock: Clock) {
    this.#bucketMs = windowMs / buckets;
    this.#clock = clock;
    this.#calls = new Uint32Array(buckets);
    this.#failures = new Uint32Array(buckets);
    this.#bucket = Math.floor(clock.now() / this.#bucketMs);
  }

  record(failed: boolean): void {
    this.rotate();
    const i = this.#bucket % this.#calls.length;
    this.#calls[i]! += 1;
    this.calls++;
    if (failed) {
      this.#failures[i]! += 1;
      this.failures++;
    }
  }

  reset(): void {
    this.#calls.fill(0);
    this.#failures.fill(0);
    this.calls = this.failures = 0;
  }

  /** Drops buckets that slid out of the window. */
  rotate(): void {
    const bucket = Math.floor(this.#clock.now() / this.#bucketMs);
    if (bucket === this.#bucket) return;
    const n = this.#calls.length;
    const stale = Math.min(n, bucket - this.#bucket);
    for (let k = 1; k <= stale; k++) {
      const i = (this.#bucket + k) % n;
      this.calls -= this.#calls[i]!;
      this.failures -= this.#failures[i]!;
      this.#calls[i] = 0;
      this.#failures[i] = 0;
    }
    this.#bucket = bucket;
  }
}

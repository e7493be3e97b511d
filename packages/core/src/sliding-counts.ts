import type { Clock } from './clock.ts';

/**
 * Two counts over a sliding time window (requests and retries, calls and failures), kept in
 * buckets that rotate lazily when read or written: no timer at all, so thousands of them
 * cost thousands of small arrays, not thousands of intervals.
 *
 * @internal Shared by Lifeline packages; not a stable public API.
 */
export class SlidingCounts {
  /** Sum of the first count over the window. */
  first = 0;
  /** Sum of the second count over the window. */
  second = 0;
  readonly #bucketMs: number;
  readonly #clock: Clock;
  readonly #first: Uint32Array;
  readonly #second: Uint32Array;
  #bucket: number;

  constructor(windowMs: number, buckets: number, clock: Clock) {
    this.#bucketMs = windowMs / buckets;
    this.#clock = clock;
    this.#first = new Uint32Array(buckets);
    this.#second = new Uint32Array(buckets);
    this.#bucket = Math.floor(clock.now() / this.#bucketMs);
  }

  /** Adds to the current bucket. */
  add(first: number, second: number): void {
    this.rotate();
    const i = this.#bucket % this.#first.length;
    this.#first[i]! += first;
    this.#second[i]! += second;
    this.first += first;
    this.second += second;
  }

  reset(): void {
    this.#first.fill(0);
    this.#second.fill(0);
    this.first = this.second = 0;
  }

  /** Drops the buckets that slid out of the window since the last call. */
  rotate(): void {
    const bucket = Math.floor(this.#clock.now() / this.#bucketMs);
    if (bucket === this.#bucket) return;
    const n = this.#first.length;
    const stale = Math.min(n, bucket - this.#bucket);
    for (let k = 1; k <= stale; k++) {
      const i = (this.#bucket + k) % n;
      this.first -= this.#first[i]!;
      this.second -= this.#second[i]!;
      this.#first[i] = 0;
      this.#second[i] = 0;
    }
    this.#bucket = bucket;
  }
}

/**
 * A source of time. `now()` is monotonic milliseconds: it never goes backwards and has
 * no relation to the wall clock, which is what deadlines and windows need. Inject one
 * into anything time-dependent so tests can move time by hand instead of sleeping.
 *
 * @example
 * const clock = new ManualClock();
 * const deadline = Deadline.after(1_000, clock);
 * clock.advance(1_000);
 * deadline.expired; // true
 */
export interface Clock {
  /** Monotonic milliseconds. */
  now(): number;
}

/** The process clock (`performance.now()`). */
export const systemClock: Clock = { now: () => performance.now() };

/**
 * A clock that only moves when told to, for tests.
 *
 * @example
 * const clock = new ManualClock(100);
 * clock.advance(50);
 * clock.now(); // 150
 */
export class ManualClock implements Clock {
  #now: number;

  constructor(start = 0) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  /** Moves time forward by `ms` (never backwards). */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`ManualClock.advance: ms must be >= 0, got ${ms}`);
    this.#now += ms;
  }
}

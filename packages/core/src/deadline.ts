import { systemClock, type Clock } from './clock.ts';
import { LifelineError, withoutStack } from './errors.ts';

/**
 * A point in time by which something must be done. Immutable; cheap to create (two
 * fields) and to compare. An AbortSignal exists only if someone asks for one.
 *
 * Times are monotonic milliseconds from a {@link Clock}; `Deadline.at()` converts a wall
 * time once, at creation, so later wall-clock jumps do not move it.
 *
 * @example
 * const deadline = Deadline.after(2_000).min(inbound); // the earlier of the two
 * if (deadline.expired) throw new Error('too late');
 * await fetch(url, { signal: deadline.signal() });
 */
export class Deadline {
  /** When it expires, in the clock's monotonic milliseconds (`Infinity` for never). */
  readonly at: number;
  readonly clock: Clock;
  #signal: AbortSignal | undefined;

  private constructor(at: number, clock: Clock) {
    this.at = at;
    this.clock = clock;
  }

  /**
   * A deadline `ms` milliseconds from now. `Infinity` means no deadline.
   *
   * @example Deadline.after(500).remaining(); // ≈ 500
   */
  static after(ms: number, clock: Clock = systemClock): Deadline {
    if (typeof ms !== 'number' || Number.isNaN(ms) || ms < 0) {
      throw new RangeError(`Deadline.after: ms must be a number >= 0 (or Infinity), got ${String(ms)}`);
    }
    return new Deadline(clock.now() + ms, clock);
  }

  /**
   * A deadline at a wall-clock time (a Date or epoch milliseconds).
   *
   * @example Deadline.at(Date.now() + 1_000);
   */
  static at(when: Date | number, clock: Clock = systemClock): Deadline {
    const epoch = typeof when === 'number' ? when : when.getTime();
    if (Number.isNaN(epoch)) throw new RangeError(`Deadline.at: invalid time ${String(when)}`);
    return new Deadline(clock.now() + Math.max(0, epoch - Date.now()), clock);
  }

  /**
   * The earlier of two optional deadlines; `undefined` only when both are.
   *
   * @example Deadline.earliest(callDeadline, inboundDeadline);
   */
  static earliest(a: Deadline | undefined, b: Deadline | undefined): Deadline | undefined {
    if (a === undefined) return b;
    if (b === undefined) return a;
    return a.at <= b.at ? a : b;
  }

  /** Milliseconds left, never negative. */
  remaining(): number {
    return Math.max(0, this.at - this.clock.now());
  }

  get expired(): boolean {
    return this.clock.now() >= this.at;
  }

  /**
   * The earlier of this deadline and `other` (this one when `other` is undefined). Returns
   * one of the two instances; nothing is allocated.
   */
  min(other: Deadline | undefined): Deadline {
    return other !== undefined && other.at < this.at ? other : this;
  }

  /**
   * An AbortSignal that aborts with a `DEADLINE_EXCEEDED` error when the deadline passes.
   * Created on first call and reused. It runs on real time even when the deadline uses an
   * injected clock.
   *
   * Its timer is unref'd, unlike the waits of a call in flight: a Deadline is a value with
   * no end of use, so nothing would clear a ref'd timer when the work finishes early, and a
   * script whose call is done would stay up until the deadline. The work the signal bounds
   * (a socket, a ref'd wait) is what keeps the process alive while it runs.
   */
  signal(): AbortSignal {
    if (this.#signal !== undefined) return this.#signal;
    const remaining = this.remaining();
    // An expected outcome, not a bug: no stack to capture.
    const reason = (): LifelineError =>
      withoutStack(() => new LifelineError('DEADLINE_EXCEEDED', 'deadline exceeded', { retryable: false }));
    if (remaining === 0) {
      this.#signal = AbortSignal.abort(reason());
    } else {
      const controller = new AbortController();
      this.#signal = controller.signal;
      if (Number.isFinite(remaining)) {
        setTimeout(() => controller.abort(reason()), remaining).unref();
      }
    }
    return this.#signal;
  }
}

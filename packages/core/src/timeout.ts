import { systemClock, type Clock } from './clock.ts';
import { CoarseTimer, type TimerTask } from './coarse-timer.ts';
import { Deadline } from './deadline.ts';
import { LifelineError, withoutStack } from './errors.ts';
import type { ExecuteOptions, Policy, PolicyContext } from './policy.ts';
import { abortError } from './sleep.ts';
import { checkBoolean, checkDuration, checkOptionNames, optionNames } from './validate.ts';

export interface TimeoutOptions {
  /**
   * Whether the `ATTEMPT_TIMEOUT` error says a retry may help and is safe (what a retry
   * policy's default predicate reads). Default true; false around work that must not run
   * twice, such as a write the other side may have applied before it went quiet.
   */
  retryable?: boolean;
  /** The timer that fires the timeouts. Default: one coarse timer shared by the process's timeouts. */
  timer?: CoarseTimer;
  /** The clock deadlines are measured on; give the one `timer` runs on. Default `systemClock`. */
  clock?: Clock;
}

const TIMEOUT_OPTIONS = optionNames<TimeoutOptions>({ retryable: true, timer: true, clock: true });

let sharedTimer: CoarseTimer | undefined;

/**
 * Bounds each run of a function in time. The function gets a deadline (the earlier of the
 * caller's and `ms` from now) and a signal that aborts at it or when the caller's signal
 * aborts; the policy rejects then without waiting for the function to notice. Its own limit
 * rejects with `ATTEMPT_TIMEOUT` (retryable unless `retryable: false`), the caller's deadline
 * with `DEADLINE_EXCEEDED`, the caller's abort with `ABORTED`.
 *
 * The deadlines share one coarse timer (10 ms ticks, so a timeout fires up to 10 ms late),
 * not a timer per run. The timer holds the process open while a run is in flight, as the
 * work's socket would, and not after.
 *
 * Placed inside a retry it bounds each attempt; outside, the whole call.
 *
 * @example
 * const rows = await timeout(2_000).execute(({ signal }) => db.query(sql, { signal }));
 */
export class TimeoutPolicy implements Policy {
  /** The limit on one run, ms. */
  readonly ms: number;
  readonly #retryable: boolean;
  readonly #timer: CoarseTimer;
  readonly #clock: Clock;

  constructor(ms: number, options: TimeoutOptions = {}) {
    checkOptionNames('timeout', options, TIMEOUT_OPTIONS);
    this.ms = checkDuration('timeout.ms', ms, true);
    if (this.ms === 0) throw new RangeError('lifeline: option `timeout.ms` must be > 0 ms (or Infinity), got 0');
    this.#retryable = checkBoolean('timeout.retryable', options.retryable ?? true);
    this.#clock = options.clock ?? systemClock;
    this.#timer = options.timer ?? (options.clock === undefined ? (sharedTimer ??= new CoarseTimer()) : new CoarseTimer({ clock: this.#clock }));
  }

  execute<T>(fn: (context: PolicyContext) => PromiseLike<T> | T, options: ExecuteOptions = {}): Promise<T> {
    const outer = options.signal;
    if (outer?.aborted) return Promise.reject(abortError(outer));
    const own = Deadline.after(this.ms, this.#clock);
    const deadline = own.min(options.deadline);
    if (deadline.expired) return Promise.reject(this.#error(false));
    return new Promise<T>((resolve, reject) => {
      const run = new TimedRun(this.#timer, deadline, outer, () => this.#error(deadline === own), resolve, reject);
      let result: PromiseLike<T> | T;
      try {
        result = fn({ attempt: 1, signal: run.signal, deadline });
      } catch (error) {
        run.fail(error);
        return;
      }
      Promise.resolve(result).then(
        (value) => run.succeed(value),
        (error: unknown) => run.fail(error),
      );
    });
  }

  /** Expected, so built without a stack: the timeout's own limit, or the caller's deadline. */
  #error(own: boolean): LifelineError {
    return withoutStack(() =>
      own
        ? new LifelineError('ATTEMPT_TIMEOUT', `timed out after ${this.ms} ms`, { retryable: this.#retryable })
        : new LifelineError('DEADLINE_EXCEEDED', 'deadline exceeded', { retryable: false }),
    );
  }
}

/**
 * A policy that bounds each run of a function to `ms` milliseconds (and the caller's
 * deadline, when earlier). See {@link TimeoutPolicy}.
 *
 * @example
 * const rows = await wrap(retry, timeout(500)).execute(({ signal }) => db.query(sql, { signal }));
 */
export function timeout(ms: number, options?: TimeoutOptions): TimeoutPolicy {
  return new TimeoutPolicy(ms, options);
}

/** One run in flight: its timer entry, its listener on the caller's signal, and its settlement. */
class TimedRun<T> implements TimerTask {
  timerAt = 0;
  timerNext: TimerTask | null = null;
  timerPrev: TimerTask | null = null;
  timerSlot = -1;
  readonly #controller = new AbortController();
  readonly #timer: CoarseTimer;
  readonly #outer: AbortSignal | undefined;
  readonly #expired: () => LifelineError;
  readonly #resolve: (value: T) => void;
  readonly #reject: (error: unknown) => void;
  #settled = false;

  constructor(
    timer: CoarseTimer,
    deadline: Deadline,
    outer: AbortSignal | undefined,
    expired: () => LifelineError,
    resolve: (value: T) => void,
    reject: (error: unknown) => void,
  ) {
    this.#timer = timer;
    this.#outer = outer;
    this.#expired = expired;
    this.#resolve = resolve;
    this.#reject = reject;
    timer.schedule(this, deadline.at);
    // The run itself is the listener (handleEvent): no closure, and removed when it settles.
    outer?.addEventListener('abort', this);
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  succeed(value: T): void {
    if (this.#settle()) this.#resolve(value);
  }

  fail(error: unknown): void {
    if (this.#settle()) this.#reject(error);
  }

  /** The deadline passed: tell the function, and stop waiting for it. */
  onTimer(): void {
    if (!this.#settle()) return;
    const error = this.#expired();
    this.#controller.abort(error);
    this.#reject(error);
  }

  /** The caller's signal aborted. */
  handleEvent(): void {
    if (!this.#settle()) return;
    const outer = this.#outer!;
    this.#controller.abort(outer.reason);
    this.#reject(abortError(outer));
  }

  #settle(): boolean {
    if (this.#settled) return false;
    this.#settled = true;
    this.#timer.cancel(this);
    this.#outer?.removeEventListener('abort', this);
    return true;
  }
}

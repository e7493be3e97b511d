import {
  checkDuration,
  checkInteger,
  checkString,
  CoarseTimer,
  errorHasInstance,
  EventEmitter,
  LifelineError,
  systemClock,
  withoutStack,
  type Clock,
  type Event,
  type ExecuteOptions,
  type PolicyContext,
  type Priority,
  type TimerTask, checkOptionNames, optionNames
} from '@lifeline/core';
import { rejectChannel } from './diagnostics.ts';
import type { Limiter } from './limiter.ts';

/** Why a call got no slot. */
export type BulkheadRejectReason = 'queue-full' | 'queue-timeout' | 'deadline' | 'aborted' | 'closed' | 'unavailable';

/** @internal A count of 0 for every rejection reason (a bulkhead's and a fleet bulkhead's own tally). */
export function noRejections(): Record<BulkheadRejectReason, number> {
  return { 'queue-full': 0, 'queue-timeout': 0, deadline: 0, aborted: 0, closed: 0, unavailable: 0 };
}

export interface BulkheadOptions {
  /** Names the bulkhead in rejection events and on the `lifeline:bulkhead:reject` channel. Default `bulkhead`. */
  name?: string;
  /** Calls allowed in flight at once. Default 100. */
  maxConcurrent?: number;
  /** Calls allowed to wait for a slot. 0 means fail at once when full. Default 200. */
  maxQueue?: number;
  /** Longest wait for a slot, ms; a call's own deadline may cut it shorter. Default: the deadline only. */
  maxQueueWait?: number;
  /** Share the owner's timer (a client's) instead of creating one. */
  timer?: CoarseTimer;
  clock?: Clock;
}

const BULKHEAD_OPTIONS = optionNames<BulkheadOptions>({ name: true, maxConcurrent: true, maxQueue: true, maxQueueWait: true, timer: true, clock: true });


/** A bulkhead's state, as plain JSON. */
export interface BulkheadSnapshot {
  inFlight: number;
  queued: number;
  maxConcurrent: number;
  maxQueue: number;
  rejected: Record<BulkheadRejectReason, number>;
}

/** A call turned away: the `onRejected` event, also published on `lifeline:bulkhead:reject`. */
export interface BulkheadRejection {
  /** The bulkhead's `name` (a `FleetBulkhead`'s defaults to its `key`). */
  name: string;
  reason: BulkheadRejectReason;
  /**
   * Calls holding a slot on this instance at the time. In rejections made by a
   * `FleetBulkhead`'s local queue, calls still waiting for a fleet-wide slot count here.
   */
  inFlight: number;
  /** Calls waiting on this instance at the time. */
  queued: number;
}

/** The `BULKHEAD_REJECTED` error; `reason` says which limit was hit. */
export class BulkheadRejectedError extends LifelineError {
  /**
   * True for a `BULKHEAD_REJECTED` error from any copy of @lifeline/bulkhead (the
   * `Symbol.for` marker, as `isBulkheadRejected` checks), and for no other code.
   *
   * @example if (error instanceof BulkheadRejectedError) reply.code(503);
   */
  static override [Symbol.hasInstance](instance: unknown): boolean {
    return errorHasInstance(BulkheadRejectedError, this, instance, 'BULKHEAD_REJECTED');
  }

  readonly reason: BulkheadRejectReason;

  constructor(reason: BulkheadRejectReason, message: string) {
    super('BULKHEAD_REJECTED', message, { retryable: false });
    this.reason = reason;
  }
}

/** A call waiting for a slot: its own queue link and timer entry, so waiting allocates nothing else. */
class Waiter implements TimerTask {
  timerAt = 0;
  timerNext: TimerTask | null = null;
  timerPrev: TimerTask | null = null;
  timerSlot = -1;
  prev: Waiter | null = null;
  next: Waiter | null = null;
  /** Its priority's queue: 0 critical, 1 normal, 2 sheddable. */
  level = 1;
  timeoutReason: BulkheadRejectReason = 'queue-timeout';
  /** When the wait ends (its deadline or `maxQueueWait`), clock ms; `Infinity` for never. */
  endsAt = Infinity;
  readonly #bulkhead: Bulkhead;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
  readonly signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;

  constructor(bulkhead: Bulkhead, resolve: () => void, reject: (error: Error) => void, signal: AbortSignal | undefined) {
    this.#bulkhead = bulkhead;
    this.resolve = resolve;
    this.reject = reject;
    this.signal = signal;
  }

  onTimer(): void {
    this.#bulkhead.drop(this, this.timeoutReason);
  }
}

/**
 * A concurrency bulkhead: at most `maxConcurrent` calls in flight and `maxQueue` waiting,
 * served by priority (`critical`, then `normal`, then `sheddable`), in FIFO order within each.
 * When the queue is full, a call takes the place of the newest waiter less critical than it
 * (which is rejected `queue-full`), so under overload the least critical work is shed first. A wait ends at `maxQueueWait`, at the call's deadline, or when its
 * AbortSignal fires, whichever comes first; a call that cannot get a slot fails at once
 * with `BULKHEAD_REJECTED` and the reason. It protects the caller: a slow dependency can
 * hold at most N of its calls, not every socket and every pending request it has.
 *
 * A semaphore with an intrusive FIFO: taking a free slot is a counter increment, and
 * waiting costs one object that is both the queue node and its timer entry (on a shared
 * coarse timer, not a timer per wait). Rejections capture no stack.
 *
 * @example
 * const bulkhead = new Bulkhead({ maxConcurrent: 10, maxQueue: 20, maxQueueWait: 500 });
 * const rows = await bulkhead.execute(() => db.query(sql), { deadline: Deadline.after(2_000) });
 */
export class Bulkhead implements Limiter {
  readonly name: string;
  readonly maxQueue: number;
  #limit: number;
  readonly #maxQueueWait: number;
  readonly #clock: Clock;
  readonly #timer: CoarseTimer;
  readonly #ownsTimer: boolean;
  #inFlight = 0;
  #queued = 0;
  /** One FIFO per priority, critical first. */
  readonly #heads: (Waiter | null)[] = [null, null, null];
  readonly #tails: (Waiter | null)[] = [null, null, null];
  #closed = false;
  readonly #rejected = noRejections();
  readonly #onRejected = new EventEmitter<BulkheadRejection>();
  /** Fires on every rejection, with the reason (also published on diagnostics channel `lifeline:bulkhead:reject`). */
  readonly onRejected: Event<BulkheadRejection> = this.#onRejected.event;

  constructor(options: BulkheadOptions = {}) {
    checkOptionNames('bulkhead', options, BULKHEAD_OPTIONS);
    this.name = options.name === undefined ? 'bulkhead' : checkString('bulkhead.name', options.name);
    this.#limit = checkInteger('bulkhead.maxConcurrent', options.maxConcurrent ?? 100);
    this.maxQueue = checkInteger('bulkhead.maxQueue', options.maxQueue ?? 200, 0);
    this.#maxQueueWait = checkDuration('bulkhead.maxQueueWait', options.maxQueueWait ?? Infinity, true);
    this.#clock = options.clock ?? systemClock;
    this.#ownsTimer = options.timer === undefined;
    this.#timer = options.timer ?? new CoarseTimer({ clock: this.#clock });
  }

  /** Calls allowed in flight at once. */
  get maxConcurrent(): number {
    return this.#limit;
  }

  /**
   * @internal Changes the limit (an adaptive limiter's latest value). A higher one hands the
   * new slots to waiters at once; a lower one takes effect as calls give their slots back.
   */
  resize(limit: number): void {
    this.#limit = limit;
    while (this.#inFlight < limit) {
      const waiter = this.#nextLive();
      if (waiter === null) break;
      this.#dequeue(waiter);
      this.#inFlight++;
      waiter.resolve();
    }
  }

  /** Calls holding a slot. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Calls waiting for a slot. */
  get queued(): number {
    return this.#queued;
  }

  /** Takes a slot if one is free now; never waits. Pair a `true` with `release()`. */
  tryAcquire(): boolean {
    if (this.#closed || this.#inFlight >= this.#limit) return false;
    this.#inFlight++;
    return true;
  }

  /**
   * Waits for a slot (FIFO), or rejects with `BULKHEAD_REJECTED`. Resolves at once when
   * one is free. Pair with `release()`.
   */
  acquire(options: ExecuteOptions = {}): Promise<void> {
    if (this.tryAcquire()) return Promise.resolve();
    if (this.#closed) return Promise.reject(this.#reject('closed'));
    const { signal, deadline } = options;
    if (signal?.aborted) return Promise.reject(this.#reject('aborted', signal.reason));
    const level = options.priority === undefined ? 1 : LEVELS[options.priority];
    if (level === undefined) {
      return Promise.reject(new TypeError(`bulkhead: priority must be 'critical', 'normal' or 'sheddable', got ${JSON.stringify(options.priority)}`));
    }
    if (this.#queued >= this.maxQueue) {
      // Full: a more critical call takes the place of the least critical waiter, if there is one.
      const evicted = this.#lastBelow(level);
      if (evicted === null) return Promise.reject(this.#reject('queue-full'));
      this.drop(evicted, 'queue-full');
    }
    const waitEnds = this.#clock.now() + this.#maxQueueWait;
    const deadlineAt = deadline?.at ?? Infinity;
    if (deadlineAt <= this.#clock.now()) return Promise.reject(this.#reject('deadline'));
    return new Promise<void>((resolve, reject) => {
      const waiter = new Waiter(this, resolve, reject, signal);
      waiter.timeoutReason = deadlineAt < waitEnds ? 'deadline' : 'queue-timeout';
      waiter.endsAt = Math.min(waitEnds, deadlineAt);
      waiter.level = level;
      this.#enqueue(waiter);
      // The entry holds the process open while the call waits (an unbounded wait has none:
      // the calls holding the slots keep it up, as busy sockets do for undici's own queue).
      this.#timer.schedule(waiter, waiter.endsAt);
      if (signal !== undefined) {
        waiter.onAbort = () => this.drop(waiter, 'aborted');
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
    });
  }

  /** Gives a slot back: to the first waiter if there is one, else to the pool. */
  release(): void {
    // Over a limit lowered since the slot was taken, the slot is not handed on.
    const waiter = this.#inFlight > this.#limit ? null : this.#nextLive();
    if (waiter === null) {
      if (this.#inFlight > 0) this.#inFlight--;
      return;
    }
    // The slot passes straight to the next waiter: in-flight stays the same.
    this.#dequeue(waiter);
    waiter.resolve();
  }

  /**
   * Runs `fn` in a slot, releasing it when `fn` settles.
   *
   * @example await bulkhead.execute(({ signal }) => fetch(url, { signal }), { signal });
   */
  async execute<T>(fn: (context: PolicyContext) => PromiseLike<T> | T, options: ExecuteOptions = {}): Promise<T> {
    if (!this.tryAcquire()) await this.acquire(options);
    try {
      return await fn({ attempt: 1, signal: options.signal, deadline: options.deadline });
    } finally {
      this.release();
    }
  }

  snapshot(): BulkheadSnapshot {
    return {
      inFlight: this.#inFlight,
      queued: this.#queued,
      maxConcurrent: this.maxConcurrent,
      maxQueue: this.maxQueue,
      rejected: { ...this.#rejected },
    };
  }

  /** Rejects every waiter with reason `closed`, refuses new calls, and stops its timer. */
  close(): void {
    this.#closed = true;
    for (let waiter = this.#first(); waiter !== null; waiter = this.#first()) this.drop(waiter, 'closed');
    if (this.#ownsTimer) this.#timer.close();
  }

  /** @internal Removes a waiter that gave up (timeout, deadline, abort, close) and rejects it. */
  drop(waiter: Waiter, reason: BulkheadRejectReason): void {
    if (waiter.prev === null && this.#heads[waiter.level] !== waiter) return; // already served or dropped
    this.#dequeue(waiter);
    waiter.reject(this.#reject(reason, reason === 'aborted' ? waiter.signal?.reason : undefined));
  }

  /**
   * The first waiter whose wait has not ended. A waiter whose deadline (or `maxQueueWait`)
   * passed since the coarse timer's last tick is dropped here with its reason, not handed a
   * slot: expired work is never started.
   */
  #nextLive(): Waiter | null {
    let waiter = this.#first();
    if (waiter === null) return null;
    const now = this.#clock.now();
    while (waiter !== null && waiter.endsAt <= now) {
      this.drop(waiter, waiter.timeoutReason);
      waiter = this.#first();
    }
    return waiter;
  }

  /** The waiter served next: the oldest of the most critical queue that has one. */
  #first(): Waiter | null {
    const heads = this.#heads;
    return heads[0] ?? heads[1] ?? heads[2] ?? null;
  }

  /** The newest waiter of the least critical queue less critical than `level`, if any. */
  #lastBelow(level: number): Waiter | null {
    for (let below = 2; below > level; below--) {
      const tail = this.#tails[below]!;
      if (tail !== null) return tail;
    }
    return null;
  }

  #enqueue(waiter: Waiter): void {
    const level = waiter.level;
    const tail = this.#tails[level]!;
    waiter.prev = tail;
    if (tail === null) this.#heads[level] = waiter;
    else tail.next = waiter;
    this.#tails[level] = waiter;
    this.#queued++;
  }

  #dequeue(waiter: Waiter): void {
    const { prev, next, level } = waiter;
    if (prev === null) this.#heads[level] = next;
    else prev.next = next;
    if (next === null) this.#tails[level] = prev;
    else next.prev = prev;
    waiter.prev = waiter.next = null;
    this.#queued--;
    this.#timer.cancel(waiter);
    if (waiter.onAbort !== undefined) waiter.signal!.removeEventListener('abort', waiter.onAbort);
  }

  #reject(reason: BulkheadRejectReason, cause?: unknown): BulkheadRejectedError {
    this.#rejected[reason]++;
    if (this.#onRejected.hasListeners || rejectChannel.hasSubscribers) {
      const rejection: BulkheadRejection = { name: this.name, reason, inFlight: this.#inFlight, queued: this.#queued };
      this.#onRejected.emit(rejection);
      if (rejectChannel.hasSubscribers) rejectChannel.publish(rejection);
    }
    const error = withoutStack(() => new BulkheadRejectedError(reason, messages[reason]));
    if (cause !== undefined) Object.defineProperty(error, 'cause', { value: cause, configurable: true, writable: true });
    return error;
  }
}

const LEVELS: Partial<Record<string, number>> & Record<Priority, number> = { critical: 0, normal: 1, sheddable: 2 };

const messages: Record<BulkheadRejectReason, string> = {
  'queue-full': 'bulkhead full: no free slot and the queue is full',
  'queue-timeout': 'bulkhead full: waited longer than maxQueueWait for a slot',
  deadline: 'bulkhead full: the deadline passed while waiting for a slot',
  aborted: 'bulkhead: the call was aborted while waiting for a slot',
  closed: 'bulkhead closed',
  unavailable: 'bulkhead: the shared limit is unreachable and the bulkhead fails closed',
};

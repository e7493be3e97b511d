import { createRequire } from 'node:module';
import {
  checkDuration,
  checkInteger,
  checkNumber,
  checkOptionNames,
  checkString,
  CoarseTimer,
  EventEmitter,
  optionNames,
  systemClock,
  withoutStack,
  type Clock,
  type Event,
  type ExecuteOptions,
  type PolicyContext,
  type Priority,
  type TimerTask,
} from '@lifeline/core';
import type Bottleneck from 'bottleneck';
import { BulkheadRejectedError, noRejections, type BulkheadRejection, type BulkheadRejectReason } from './bulkhead.ts';
import { rejectChannel } from './diagnostics.ts';
import type { Limiter, LimiterSnapshot } from './limiter.ts';

export interface RateLimiterOptions {
  /** Names the limiter in errors, rejection events and on `lifeline:bulkhead:reject`. Default `rate-limiter`. */
  name?: string;
  /** Calls admitted per interval (the dependency's quota). */
  limit: number;
  /** The interval, ms: `limit` calls are admitted per `intervalMs`. */
  intervalMs: number;
  /** Calls allowed to wait for a token (at least 1: every call waits for bottleneck's answer). Default `limit`. */
  maxQueue?: number;
  /** Longest wait for a token, ms; a call's own deadline may cut it shorter. Default: the deadline only. */
  maxQueueWait?: number;
  /** Share the owner's timer (a client's) instead of creating one. */
  timer?: CoarseTimer;
  clock?: Clock;
}

const RATE_LIMITER_OPTIONS = optionNames<RateLimiterOptions>({ name: true, limit: true, intervalMs: true, maxQueue: true, maxQueueWait: true, timer: true, clock: true });

/**
 * An ioredis client (`Redis`), typed by the methods checked at construction rather than by
 * ioredis's own type, so that the main entry's types do not need ioredis (an optional peer).
 */
export interface IORedisClient {
  duplicate(): unknown;
  defineCommand(name: string, definition: { lua: string }): unknown;
}

export interface FleetRateLimiterOptions extends RateLimiterOptions {
  /** A connected ioredis client, shared with bottleneck (not closed by `close()`). Use `enableOfflineQueue: false` so an outage fails fast. */
  redis: IORedisClient;
  /** The limit's name: every instance using the same key shares one quota. Also the default `name`. */
  key: string;
}

/**
 * A rate limiter's state, as plain JSON. `inFlight` counts calls admitted and not yet
 * released; `maxConcurrent` is `limit`, the most calls one interval admits (a rate bounds how
 * many calls start, not how many run at once).
 */
export interface RateLimiterSnapshot extends LimiterSnapshot {
  limit: number;
  intervalMs: number;
  maxQueue: number;
  /** Calls admitted since the limiter was made. */
  admitted: number;
  rejected: Record<BulkheadRejectReason, number>;
  /** A `FleetRateLimiter`'s Redis key prefix; absent for a local one. */
  key?: string;
}

/** @internal Where bottleneck keeps the reservoir: this process, or Redis. */
interface Store {
  readonly redis: IORedisClient;
  readonly key: string;
}

/** bottleneck is loaded when the first rate limiter is made, so importing the package costs nothing (~7 ms) for those who never use one. */
let bottleneckClass: typeof Bottleneck | undefined;
function loadBottleneck(): typeof Bottleneck {
  bottleneckClass ??= createRequire(import.meta.url)('bottleneck') as typeof Bottleneck;
  return bottleneckClass;
}

const LEVELS: Partial<Record<string, number>> & Record<Priority, number> = { critical: 0, normal: 1, sheddable: 2 };
const DONE = Promise.resolve();
/**
 * Under load one request to bottleneck asks for up to `limit / 64` tokens. bottleneck takes a
 * millisecond or more per request (its local store waits a 0 ms timer at each step; over Redis,
 * a round trip), so one token per request caps a limiter near 700 calls/s whatever its limit
 * (bench/README.md, "Rate limits"). The price: a request that does not fit in what is left of an
 * interval waits for the next, so up to 1/64 of an interval's tokens can go unused — the rate
 * errs low, never high.
 */
const BATCH_DIVISOR = 64;

/** A call waiting for a token: its queue link and its timer entry. */
class Waiter implements TimerTask {
  timerAt = 0;
  timerNext: TimerTask | null = null;
  timerPrev: TimerTask | null = null;
  timerSlot = -1;
  prev: Waiter | null = null;
  next: Waiter | null = null;
  queued = true;
  level = 1;
  endsAt = Infinity;
  timeoutReason: BulkheadRejectReason = 'queue-timeout';
  onAbort: (() => void) | undefined;
  readonly #limiter: RateLimiter;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
  readonly signal: AbortSignal | undefined;

  constructor(limiter: RateLimiter, resolve: () => void, reject: (error: Error) => void, signal: AbortSignal | undefined) {
    this.#limiter = limiter;
    this.resolve = resolve;
    this.reject = reject;
    this.signal = signal;
  }

  onTimer(): void {
    this.#limiter.drop(this, this.timeoutReason);
  }
}

/**
 * N calls per interval for a quota'd dependency (a third-party API that allows 100 requests a
 * second), on bottleneck's reservoir: `limit` tokens, refilled to `limit` every `intervalMs`.
 * A call waits for a token — in priority order, bounded by `maxQueue`, `maxQueueWait`, its
 * deadline and its signal — or fails with `BULKHEAD_REJECTED`. A {@link Limiter}, so a client
 * can put it around whole calls; `FleetRateLimiter` (`@lifeline/bulkhead/redis`) shares one
 * quota across a fleet through bottleneck's Redis clustering.
 *
 * Not for the hot path: bottleneck answers every token request asynchronously, through its
 * own locks and timers, so a call waits ~3.4 ms for a token locally and ~1.4 ms over a
 * loopback Redis even when the limit does not bind, at 200–300 µs of CPU, against ~0.2 µs for
 * a `Bulkhead` (bench/README.md, "Rate limits"). For concurrency use `Bulkhead` or `AdaptiveLimiter`.
 *
 * Waiting is this limiter's own queue; bottleneck only hands out tokens. Every waiter has a
 * token asked for it (calls arriving together share one weighted request), and a token goes to
 * the first waiter still waiting when it arrives. A call that gives up (deadline, abort) leaves
 * its request behind for the next caller instead of a token nobody takes; a token that arrives
 * with nobody waiting is spent unused (it cannot be given back, and keeping it for later could
 * let a later interval exceed the limit).
 *
 * `tryAcquire()` always returns `false`: bottleneck cannot say synchronously whether a token is
 * left, and answering from a local count would be a guess (over Redis, a wrong one). `release()`
 * returns no token — a call spent its token when it started — and only ends the call's count
 * in `inFlight`.
 *
 * @example
 * const geocoder = new RateLimiter({ name: 'geocoder', limit: 50, intervalMs: 1_000, maxQueueWait: 2_000 });
 * const place = await geocoder.execute(() => geocode(address), { deadline: Deadline.after(5_000) });
 */
export class RateLimiter implements Limiter {
  readonly name: string;
  readonly limit: number;
  readonly intervalMs: number;
  readonly maxQueue: number;
  readonly #key: string | undefined;
  readonly #maxQueueWait: number;
  readonly #clock: Clock;
  readonly #timer: CoarseTimer;
  readonly #ownsTimer: boolean;
  readonly #bottleneck: Bottleneck;
  readonly #connection: Bottleneck.IORedisConnection | undefined;
  #inFlight = 0;
  #queued = 0;
  /** Tokens asked of bottleneck and not yet granted. */
  #pending = 0;
  /** The most tokens one request to bottleneck asks for. */
  readonly #maxBatch: number;
  #admitted = 0;
  #closed = false;
  /** An #askNow is queued. */
  #asking = false;
  /** One list, most critical first and FIFO within a priority; `#tails[level]` is each priority's newest. */
  #head: Waiter | null = null;
  readonly #tails: (Waiter | null)[] = [null, null, null];
  readonly #rejected = noRejections();
  readonly #onRejected = new EventEmitter<BulkheadRejection>();
  /** Fires on every rejection, with its reason (also published on diagnostics channel `lifeline:bulkhead:reject`). */
  readonly onRejected: Event<BulkheadRejection> = this.#onRejected.event;

  /** @param store @internal Redis, for a `FleetRateLimiter`. */
  constructor(options: RateLimiterOptions, store?: Store) {
    if (options === undefined) throw new TypeError('lifeline: option `rateLimiter.limit` must be a number, got undefined');
    checkOptionNames('rateLimiter', options, RATE_LIMITER_OPTIONS);
    this.#key = store?.key;
    this.name = options.name === undefined ? 'rate-limiter' : checkString('rateLimiter.name', options.name);
    this.limit = checkInteger('rateLimiter.limit', options.limit);
    this.intervalMs = checkDuration('rateLimiter.intervalMs', checkNumber('rateLimiter.intervalMs', options.intervalMs, 1));
    this.maxQueue = checkInteger('rateLimiter.maxQueue', options.maxQueue ?? this.limit, 1);
    this.#maxQueueWait = checkDuration('rateLimiter.maxQueueWait', options.maxQueueWait ?? Infinity, true);
    this.#clock = options.clock ?? systemClock;
    this.#ownsTimer = options.timer === undefined;
    this.#timer = options.timer ?? new CoarseTimer({ clock: this.#clock });
    this.#maxBatch = Math.max(1, Math.floor(this.limit / BATCH_DIVISOR));
    const BottleneckClass = loadBottleneck();
    const settings: Bottleneck.ConstructorOptions = {
      reservoir: this.limit,
      reservoirRefreshAmount: this.limit,
      reservoirRefreshInterval: this.intervalMs,
      // The reservoir is refilled (locally) or waiters are woken (over Redis) on this beat, so an
      // interval lasts up to one beat longer than intervalMs: the rate errs low, never high.
      heartbeatInterval: Math.max(5, Math.min(250, Math.floor(this.intervalMs / 10))),
    };
    if (store === undefined) {
      this.#bottleneck = new BottleneckClass(settings);
      return;
    }
    // bottleneck runs its scripts on the given client and subscribes on a duplicate of it.
    this.#connection = new BottleneckClass.IORedisConnection({ client: store.redis, Redis: store.redis.constructor });
    this.#bottleneck = new BottleneckClass({ ...settings, id: store.key, datastore: 'ioredis', connection: this.#connection });
    // The settings stored in Redis are the first instance's; this instance's limit replaces them (the
    // most recently started instance's limit applies). Failures surface as `unavailable` on acquire.
    // (bottleneck's typings say updateSettings returns the limiter; it returns a promise of it.)
    const updated: unknown = this.#bottleneck.updateSettings({ reservoirRefreshAmount: this.limit, reservoirRefreshInterval: this.intervalMs });
    Promise.resolve(updated).catch(() => undefined);
  }

  /** Calls admitted and not yet released. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Calls waiting for a token. */
  get queued(): number {
    return this.#queued;
  }

  /** Always `false`: a token is bottleneck's asynchronous answer, so call `acquire()`. */
  tryAcquire(): boolean {
    return false;
  }

  /** Waits for a token (priority, then FIFO), or rejects with `BULKHEAD_REJECTED`. Pair with `release()`. */
  acquire(options: ExecuteOptions = {}): Promise<void> {
    if (this.#closed) return Promise.reject(this.#reject('closed'));
    const { signal, deadline } = options;
    if (signal?.aborted) return Promise.reject(this.#reject('aborted', signal.reason));
    const level = options.priority === undefined ? 1 : LEVELS[options.priority];
    if (level === undefined) {
      return Promise.reject(new TypeError(`rateLimiter: priority must be 'critical', 'normal' or 'sheddable', got ${JSON.stringify(options.priority)}`));
    }
    const now = this.#clock.now();
    const deadlineAt = deadline?.at ?? Infinity;
    if (deadlineAt <= now) return Promise.reject(this.#reject('deadline'));
    if (this.#queued >= this.maxQueue) {
      // Full: a more critical call takes the place of the newest less critical waiter, if there is one.
      const evicted = this.#lastBelow(level);
      if (evicted === null) return Promise.reject(this.#reject('queue-full'));
      this.drop(evicted, 'queue-full');
    }
    const waitEnds = now + this.#maxQueueWait;
    return new Promise<void>((resolve, reject) => {
      const waiter = new Waiter(this, resolve, reject, signal);
      waiter.level = level;
      waiter.endsAt = Math.min(waitEnds, deadlineAt);
      waiter.timeoutReason = deadlineAt < waitEnds ? 'deadline' : 'queue-timeout';
      this.#enqueue(waiter);
      if (waiter.endsAt !== Infinity) this.#timer.schedule(waiter, waiter.endsAt);
      if (signal !== undefined) {
        waiter.onAbort = () => this.drop(waiter, 'aborted', signal.reason);
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.#ask();
    });
  }

  /** Ends an admitted call's count in `inFlight`; no token is given back (the call spent it). */
  release(): void {
    if (this.#inFlight > 0) this.#inFlight--;
  }

  /**
   * Runs `fn` once a token is had.
   *
   * @example await limiter.execute(({ signal }) => fetch(url, { signal }), { deadline: Deadline.after(2_000) });
   */
  async execute<T>(fn: (context: PolicyContext) => PromiseLike<T> | T, options: ExecuteOptions = {}): Promise<T> {
    await this.acquire(options);
    try {
      return await fn({ attempt: 1, signal: options.signal, deadline: options.deadline });
    } finally {
      this.release();
    }
  }

  /** Tokens left in the current interval (fleet-wide for a `FleetRateLimiter`): bottleneck's count, so asynchronous. */
  async remaining(): Promise<number> {
    return (await this.#bottleneck.currentReservoir()) ?? this.limit;
  }

  snapshot(): RateLimiterSnapshot {
    return {
      inFlight: this.#inFlight,
      queued: this.#queued,
      maxConcurrent: this.limit,
      limit: this.limit,
      intervalMs: this.intervalMs,
      maxQueue: this.maxQueue,
      admitted: this.#admitted,
      rejected: { ...this.#rejected },
      ...(this.#key === undefined ? {} : { key: this.#key }),
    };
  }

  /**
   * Rejects every waiter with reason `closed`, refuses new calls, and stops bottleneck (over
   * Redis: unsubscribes and closes the subscriber connection; the given client stays open).
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (let waiter = this.#head; waiter !== null; waiter = this.#head) this.drop(waiter, 'closed');
    if (this.#ownsTimer) this.#timer.close();
    this.#bottleneck.stop({ dropWaitingJobs: true }).catch(() => undefined);
    const connection = this.#connection as { terminated?: boolean; subscriber?: { disconnect(): void } } | undefined;
    // Over Redis the subscriber connection is this limiter's alone: it is closed rather than
    // unsubscribed (bottleneck's unsubscribe leaves an unhandled rejection when Redis is down).
    if (connection !== undefined) connection.terminated = true;
    // Stops its heartbeat. (A promise locally, undefined on a shared connection, whatever the typings say.)
    const disconnected: unknown = this.#bottleneck.disconnect(false);
    Promise.resolve(disconnected).catch(() => undefined);
    connection?.subscriber?.disconnect();
  }

  /** @internal Removes a waiter that gave up (timeout, deadline, abort, close, an unreachable Redis) and rejects it. */
  drop(waiter: Waiter, reason: BulkheadRejectReason, cause?: unknown): void {
    if (!waiter.queued) return;
    this.#dequeue(waiter);
    waiter.reject(this.#reject(reason, cause));
  }

  /**
   * Asks bottleneck for tokens until every waiter has one coming: the waiters not yet covered,
   * at most `#maxBatch` to a request (a job of that `weight`), so that under load one of
   * bottleneck's slow turns admits many calls instead of one. Asked once the current microtasks
   * have run, so that calls arriving together (a burst, or callers a grant just released) share
   * requests.
   */
  #ask(): void {
    if (this.#asking) return;
    this.#asking = true;
    queueMicrotask(this.#askNow);
  }

  readonly #askNow = (): void => {
    this.#asking = false;
    while (this.#pending < this.#queued && !this.#closed) {
      const tokens = Math.min(this.#queued - this.#pending, this.#maxBatch);
      this.#pending += tokens;
      this.#bottleneck.schedule({ weight: tokens }, () => this.#granted(tokens)).catch((error: unknown) => this.#failed(tokens, error));
    }
  };

  /** Tokens arrived: the first waiters still waiting get them; any left over go unused. */
  #granted(tokens: number): Promise<void> {
    this.#pending -= tokens;
    for (let i = 0; i < tokens && !this.#closed; i++) {
      const waiter = this.#nextLive();
      if (waiter === null) break;
      this.#dequeue(waiter);
      this.#inFlight++;
      this.#admitted++;
      waiter.resolve();
    }
    return DONE;
  }

  /** bottleneck could not answer (Redis unreachable): the waiters the request covered fail now, not at their deadlines. */
  #failed(tokens: number, error: unknown): void {
    this.#pending -= tokens;
    if (this.#closed) return;
    for (let i = 0; i < tokens; i++) {
      const waiter = this.#nextLive();
      if (waiter === null) break;
      this.drop(waiter, 'unavailable', error);
    }
    this.#ask();
  }

  /** The first waiter whose wait has not ended; those whose wait ended since the timer's last tick are dropped here. */
  #nextLive(): Waiter | null {
    const now = this.#clock.now();
    let waiter = this.#head;
    while (waiter !== null && waiter.endsAt <= now) {
      this.drop(waiter, waiter.timeoutReason);
      waiter = this.#head;
    }
    return waiter;
  }

  #lastBelow(level: number): Waiter | null {
    for (let below = 2; below > level; below--) {
      const tail = this.#tails[below]!;
      if (tail !== null) return tail;
    }
    return null;
  }

  #enqueue(waiter: Waiter): void {
    const tails = this.#tails;
    const level = waiter.level;
    // After the newest waiter at this priority or a more critical one; else first.
    let after: Waiter | null = null;
    for (let at = level; at >= 0 && after === null; at--) after = tails[at]!;
    const next = after === null ? this.#head : after.next;
    waiter.prev = after;
    waiter.next = next;
    if (after === null) this.#head = waiter;
    else after.next = waiter;
    if (next !== null) next.prev = waiter;
    tails[level] = waiter;
    this.#queued++;
  }

  #dequeue(waiter: Waiter): void {
    const { prev, next, level } = waiter;
    if (prev === null) this.#head = next;
    else prev.next = next;
    if (next !== null) next.prev = prev;
    if (this.#tails[level] === waiter) this.#tails[level] = prev !== null && prev.level === level ? prev : null;
    waiter.prev = waiter.next = null;
    waiter.queued = false;
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
    const error = withoutStack(() => new BulkheadRejectedError(reason, `rate limiter ${JSON.stringify(this.name)}: ${messages[reason]}`));
    if (cause !== undefined) Object.defineProperty(error, 'cause', { value: cause, configurable: true, writable: true });
    return error;
  }
}

/**
 * {@link RateLimiter}'s quota shared by every instance of a service through Redis, on
 * bottleneck's clustering: all instances using the same `key` together admit `limit` calls per
 * `intervalMs`. Every token is a Redis round trip (bottleneck's Lua scripts on the given
 * ioredis client; it subscribes for wake-ups on a duplicate connection of it).
 *
 * When Redis is unreachable it fails closed: waiting calls are rejected with reason
 * `unavailable` as bottleneck's requests fail (bottleneck has no local fallback).
 *
 * @example
 * const redis = new Redis({ host: 'redis', enableOfflineQueue: false, maxRetriesPerRequest: 0 });
 * const maps = new FleetRateLimiter({ redis, key: 'maps-api', limit: 100, intervalMs: 1_000 });
 * const route = await maps.execute(() => maps.route(from, to), { deadline: Deadline.after(3_000) });
 */
export class FleetRateLimiter extends RateLimiter {
  readonly key: string;

  constructor(options: FleetRateLimiterOptions) {
    const { redis, key, ...rest } = options ?? ({} as Partial<FleetRateLimiterOptions>);
    if (redis === undefined || typeof redis.duplicate !== 'function' || typeof redis.defineCommand !== 'function') {
      throw new TypeError('lifeline: option `rateLimiter.redis` must be an ioredis client');
    }
    const name = checkString('rateLimiter.key', key);
    const prefixed = `lifeline:rate:${name}`;
    super({ name, ...rest }, { redis, key: prefixed });
    this.key = prefixed;
  }
}

const messages: Record<BulkheadRejectReason, string> = {
  'queue-full': 'no token left and the queue is full',
  'queue-timeout': 'waited longer than maxQueueWait for a token',
  deadline: 'the deadline passed while waiting for a token',
  aborted: 'the call was aborted while waiting for a token',
  closed: 'closed',
  unavailable: 'the shared quota (Redis) is unreachable',
};

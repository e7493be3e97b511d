import type { ResponseHeaders } from '@lifeline/core';
import { parseRetryAfter } from './retry-after.ts';
import { rateLimitWaitMs } from './rate-limit.ts';

/**
 * Why a failed attempt is final: the failure is `not-retryable` (by the predicate, or not
 * safe to repeat), the `attempts` are used up, the server asked for a wait longer than the
 * policy honours (`server-delay`), the wait plus a minimal attempt would not fit in the
 * `deadline`, or the retry `budget` is spent.
 */
export type GiveUpReason = 'not-retryable' | 'attempts' | 'deadline' | 'budget' | 'server-delay';

/**
 * Why {@link RetryPolicy.decide} says no retry: a {@link GiveUpReason}, or `answer` (the
 * response is not a failure worth a retry: a 2xx, a 404, a 500 to a non-idempotent call —
 * it is the call's answer), or `aborted` (the caller stopped waiting).
 */
export type StopReason = GiveUpReason | 'answer' | 'aborted';

/**
 * What happened to one attempt, as {@link RetryPolicy.decide} reads it. Give either a
 * response `status` (with its `headers`) or, when no response arrived, the `error`.
 *
 * The fields are plain and writable so that a caller can keep one input per call (or be
 * the input: a per-call handler with these fields) and update it between attempts,
 * instead of building an object per decision.
 */
export interface RetryInput {
  /** The attempt that just ended: 1 for the first. */
  attempt: number;
  /** The response status when the attempt got a response; absent or 0 when it did not. */
  status?: number | undefined;
  /** The response's headers (lower-case names), read for `retry-after` and `ratelimit` only when the status is retryable. */
  headers?: ResponseHeaders | undefined;
  /** Why the attempt failed, when no response arrived (a reset, a timeout...). Ignored when `status` is given. */
  error?: unknown;
  /**
   * The server's requested wait, ms, when the caller has already parsed it; saves
   * decide() reading the headers. For an `error`, its own `retryAfterMs` is used when this
   * is absent.
   */
  retryAfterMs?: number | undefined;
  /**
   * Whether sending the request twice is harmless: an idempotent method, or a request that
   * carries an `Idempotency-Key`. A non-idempotent call is retried only when nothing was
   * sent (a connect failure). Default true: a function handed to execute() is the caller's
   * to make safe.
   */
  idempotent?: boolean | undefined;
  /** Whether the request (its body) can be sent again; a consumed stream cannot. Default true. */
  replayable?: boolean | undefined;
  /** Time left before the call's deadline, ms. Default `Infinity`. */
  remainingMs?: number | undefined;
  /** The wait used before this attempt, ms (0 before the first); decorrelated jitter grows from it. */
  previousDelayMs?: number | undefined;
  /** The caller has given up (its signal aborted): no retry, whatever the failure. */
  aborted?: boolean | undefined;
  /**
   * Whether the attempt's outcome is not known yet: a keyed call whose connection closed
   * with no answer, after the request was sent — the dependency may have done the work and
   * the answer been lost on the way back. decide() still decides, but does not report the
   * failure to the budget: the caller reports the outcome once it is known
   * ({@link RetryPolicy.recordSuccess} when a retry's replayed answer shows the work was
   * done, {@link RetryPolicy.recordFailure} otherwise). Default false.
   */
  outcomeUnknown?: boolean | undefined;
}

/**
 * The answer of {@link RetryPolicy.decide}: retry after `delayMs`, or stop for `reason`.
 *
 * One shape for both answers, with writable fields, so a caller can pass one instance to
 * decide() again and again (`policy.decide(input, decision)`) and allocate nothing. Without
 * one, decide() returns a shared frozen constant for a stop that carries no server wait
 * (the common case: an answer, an exhausted attempt count) and a new object otherwise.
 *
 * @example
 * const decision = new RetryDecision(); // once per call, or per stage: decide() is synchronous
 * policy.decide({ attempt: 1, status: 503, headers }, decision);
 * if (decision.retry) scheduleRetry(decision.delayMs);
 * else deliver(decision.reason, decision.retryAfterMs);
 */
export class RetryDecision {
  /** True: make another attempt after {@link delayMs}. */
  retry = false;
  /** The wait before the next attempt, ms; 0 when {@link retry} is false. */
  delayMs = 0;
  /** Why no retry follows; undefined when {@link retry} is true. */
  reason: StopReason | undefined = undefined;
  /**
   * The wait the server asked for (`Retry-After`, else an exhausted `RateLimit`'s reset),
   * ms, parsed once and uncapped; undefined when it asked for none or the status was not
   * retryable. Hand it on (an error's `retryAfterMs`) rather than parsing the headers again.
   */
  retryAfterMs: number | undefined = undefined;
}

function constant(reason: StopReason): RetryDecision {
  const decision = new RetryDecision();
  decision.reason = reason;
  return Object.freeze(decision);
}

/** The stops without a server wait, shared: a stop needs no allocation. */
const STOPPED: Readonly<Record<StopReason, RetryDecision>> = {
  answer: constant('answer'),
  aborted: constant('aborted'),
  'not-retryable': constant('not-retryable'),
  attempts: constant('attempts'),
  deadline: constant('deadline'),
  budget: constant('budget'),
  'server-delay': constant('server-delay'),
};

/** A stop decision: written into `into`, else a shared constant, else (with a server wait) a new one. @internal */
export function stopped(into: RetryDecision | undefined, reason: StopReason, serverWait: number | undefined): RetryDecision {
  if (into === undefined) {
    if (serverWait === undefined) return STOPPED[reason];
    into = new RetryDecision();
  }
  into.retry = false;
  into.delayMs = 0;
  into.reason = reason;
  into.retryAfterMs = serverWait;
  return into;
}

/**
 * How long a response asks the client to wait before trying again, ms: `Retry-After`,
 * else the reset of an exhausted `RateLimit` quota (the draft gives `Retry-After`
 * precedence); undefined when it asks for neither. Uncapped.
 *
 * @example
 * requestedWaitMs({ 'retry-after': '2' }); // 2_000
 * requestedWaitMs({ ratelimit: '"default";r=0;t=30' }); // 30_000
 */
export function requestedWaitMs(headers: ResponseHeaders): number | undefined {
  return parseRetryAfter(headers['retry-after']) ?? (headers.ratelimit === undefined ? undefined : rateLimitWaitMs(headers));
}

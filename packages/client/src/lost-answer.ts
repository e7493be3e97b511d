import type { AdaptiveThrottle, Breaker } from '@lifeline/breaker';
import { isLifelineError } from '@lifeline/core';
import type { Endpoint, ServicePool } from '@lifeline/discovery';
import { errorCodeOf } from '@lifeline/retry';
import type { CallSettings, CallState } from './call-settings.ts';

type Headers = Record<string, string | string[] | undefined>;

/**
 * Codes of a connection that closed after the request was sent and before any answer: the
 * server may have done the work. Timeouts are not among them — a slow dependency is a
 * failing one whatever it did — and neither are connect failures (nothing was sent).
 */
const CLOSED_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);

/**
 * Whether an attempt's failure may be an answer lost on the way back: the client's `SOCKET`
 * error (the request may have been sent) caused by a connection that closed, not timed out.
 */
export function mayBeLostAnswer(error: unknown): boolean {
  if (!isLifelineError(error, 'SOCKET')) return false;
  const code = errorCodeOf((error as { cause?: unknown }).cause);
  return code !== undefined && CLOSED_CODES.has(code);
}

/** The response is the stored answer of an earlier attempt (`idempotent-replayed: true`). */
export function isReplayed(headers: Headers): boolean {
  const value = headers['idempotent-replayed'];
  return (Array.isArray(value) ? value[0] : value)?.trim().toLowerCase() === 'true';
}

/**
 * The outcome of a keyed attempt whose connection closed with no answer, held until the
 * call shows what it was. A retry of a call with an Idempotency-Key answered with the
 * stored response (`idempotent-replayed: true`, as `@lifeline/server` and Stripe send it)
 * proves the dependency did the work: only the answer was lost. Anything else — a fresh
 * answer (the first attempt never ran), a failure, no retry at all — leaves it a failure.
 *
 * Until then nothing counts it: not the endpoint's breaker (it keeps the attempt's ticket),
 * not the adaptive throttle, not the retry budget. Counted at once, lost answers read as a
 * failing dependency: at 50 % lost, breakers opened and the budget's bucket emptied, and
 * calls a keyed retry would have completed went unpaid to a fallback. Shown done, the
 * attempt is a success to all three — the endpoint answers, its answers do not arrive —
 * and a failure's latency to the balancer, which steers calls away from an endpoint that
 * loses answers while another does not.
 *
 * Answers lost for good (every attempt's) still stop retries: each call's held outcomes are
 * counted as failures when it ends — one failure for the budget per call, so the bucket
 * allows up to `maxAttempts − 1` retries for each token above half, and drains one call
 * later, by at most the calls in flight (tested: 5 calls retried in full, then none).
 * Without a route stage (no breaker, discovery or throttle) nothing is held, and each
 * attempt counts at once.
 *
 * @internal
 */
export class LostAnswer {
  readonly #settings: CallSettings;
  readonly #throttle: AdaptiveThrottle | undefined;
  readonly #pool: ServicePool | undefined;
  readonly #endpoint: Endpoint | undefined;
  readonly #breaker: Breaker | undefined;
  readonly #ticket: number;
  readonly #latencyMs: number;
  readonly #failure: unknown;
  /** The attempt it was (the call's attempt number). */
  readonly attempt: number;

  constructor(
    settings: CallSettings,
    throttle: AdaptiveThrottle | undefined,
    target: { pool: ServicePool; endpoint: Endpoint } | { breaker: Breaker | undefined },
    ticket: number,
    latencyMs: number,
    failure: unknown,
    attempt: number,
  ) {
    this.#settings = settings;
    this.#throttle = throttle;
    if ('pool' in target) {
      this.#pool = target.pool;
      this.#endpoint = target.endpoint;
    } else this.#breaker = target.breaker;
    this.#ticket = ticket;
    this.#latencyMs = latencyMs;
    this.#failure = failure;
    this.attempt = attempt;
  }

  /**
   * Counts the attempt: `done` when a replayed answer showed the work was done. `budget`
   * false leaves the retry budget out (the call's failure is counted once, see
   * {@link settleLostAnswers}).
   */
  settle(done: boolean, budget: boolean): void {
    this.#throttle?.record(done);
    if (done) this.#settings.retry.recordSuccess();
    else if (budget) this.#settings.retry.recordFailure();
    const pool = this.#pool;
    if (pool !== undefined) {
      if (done) pool.answerLost(this.#endpoint!, this.#ticket, this.#latencyMs);
      else pool.failed(this.#endpoint!, this.#ticket, this.#latencyMs, this.#failure);
      return;
    }
    const breaker = this.#breaker;
    if (breaker === undefined) return;
    if (done) breaker.success(this.#ticket, this.#latencyMs);
    else breaker.failure(this.#ticket, this.#latencyMs, this.#failure);
  }
}

/**
 * Counts every outcome the call held: `done` when a replayed answer showed the work was
 * done. Not shown done, each is a failure of its endpoint, but the retry budget counts the
 * call's lost answers as one failure: they are one request asked again, and the keyed
 * repeats of a request whose work may be done are not a dependency failing anew. Counted
 * per attempt, the calls that lost every answer (1 in 8 at 50 % lost) drained the bucket
 * faster than the calls rescued refilled it, and retries stopped for all.
 */
export function settleLostAnswers(call: CallState, done: boolean): void {
  const lost = call.lostAnswers;
  if (lost === undefined) return;
  call.lostAnswers = undefined;
  for (let i = 0; i < lost.length; i++) lost[i]!.settle(done, i === 0);
}

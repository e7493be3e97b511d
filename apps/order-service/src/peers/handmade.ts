import Bottleneck from 'bottleneck';
import CircuitBreaker from 'opossum';
import pRetry from 'p-retry';
import { Pool } from 'undici';
import type { Dependencies } from '../dependencies.ts';
import type { Budget } from './budget.ts';
import { exchange, isServerError, peerDependencies, ServerError, type Call, type Reply } from './reply.ts';

/** One endpoint: its pool and the breaker around calls to it. */
interface Endpoint {
  pool: Pool;
  breaker: CircuitBreaker<[Pool, Call], Reply>;
}

/** Throws a 5xx, so that opossum counts it as a failure and p-retry retries it. */
async function attempt(pool: Pool, call: Call): Promise<Reply> {
  const reply = await exchange(pool, call);
  if (isServerError(reply)) throw new ServerError(reply);
  return reply;
}

/**
 * One dependency composed by hand, as the design card's stack would be:
 *
 * - undici `Pool` per endpoint with `headersTimeout` and `bodyTimeout` at the attempt budget
 *   (undici docs, Pool/Client options: both default to 300 s, far too long for a call
 *   with a 600 ms attempt budget).
 * - opossum `CircuitBreaker` per endpoint around the attempt, with the options its README
 *   shows for production: `timeout` (here the attempt budget), `errorThresholdPercentage:
 *   50`, `resetTimeout: 30_000`, `rollingCountTimeout: 10_000` (its default window), and
 *   `volumeThreshold: 10` — without it the README's own warning applies: "if the first
 *   execution times out or fails, the circuit immediately opens", so one 503 would refuse
 *   the retry of that very charge for 30 s.
 * - bottleneck per dependency around each attempt: `maxConcurrent: 100` and `highWater: 200`
 *   with `strategy: OVERFLOW` (its README: beyond `highWater` queued jobs a new job is not
 *   added, and its promise rejects) — Lifeline's bulkhead defaults, 100 in flight and 200
 *   queued, as cockatiel's peer has them; bottleneck's own default queue is unbounded.
 * - p-retry outermost (its README): `retries` = attempts − 1, exponential backoff from
 *   `minTimeout: 100` (Lifeline's base) by `factor: 2` up to `maxTimeout: 1_000`, with
 *   `randomize: true` for jitter (off by default in p-retry), and `maxRetryTime` at the
 *   total budget so no retry starts after it. Every rejection is retried — a 5xx, a
 *   timeout, a refused connection, and an open breaker, since the retry goes to the next
 *   endpoint round-robin, whose breaker may be closed.
 */
class Stack {
  readonly #endpoints: Endpoint[];
  readonly #limiter: Bottleneck;
  readonly #budget: Budget;
  #next = 0;
  #closed: Promise<void> | undefined;

  constructor(origins: string[], budget: Budget) {
    this.#budget = budget;
    this.#limiter = new Bottleneck({ maxConcurrent: 100, highWater: 200, strategy: Bottleneck.strategy.OVERFLOW });
    this.#endpoints = origins.map((origin) => {
      const pool = new Pool(origin, { headersTimeout: budget.attemptMs, bodyTimeout: budget.attemptMs });
      const breaker = new CircuitBreaker(attempt, {
        timeout: budget.attemptMs,
        errorThresholdPercentage: 50,
        resetTimeout: 30_000,
        rollingCountTimeout: 10_000,
        volumeThreshold: 10,
      });
      return { pool, breaker };
    });
  }

  call(call: Call): Promise<Reply> {
    return pRetry(
      () => {
        const endpoint = this.#endpoints[this.#next++ % this.#endpoints.length]!;
        return this.#limiter.schedule(() => endpoint.breaker.fire(endpoint.pool, call));
      },
      { retries: this.#budget.attempts - 1, factor: 2, minTimeout: 100, maxTimeout: 1_000, randomize: true, maxRetryTime: this.#budget.totalMs },
    );
  }

  /** Shuts the breakers (their bucket interval), stops the limiter, closes the pools; once. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      for (const { breaker } of this.#endpoints) breaker.shutdown();
      await this.#limiter.stop({ dropWaitingJobs: true });
      await Promise.all(this.#endpoints.map(({ pool }) => pool.close()));
    })();
    return this.#closed;
  }
}

/**
 * The order service's dependencies through the stack on Lifeline's design card, composed
 * by hand: undici + p-retry + opossum + bottleneck (see `Stack` for each choice and the doc
 * it follows). Charges go round-robin over the static payment endpoints, one endpoint per
 * attempt, and carry the order's Idempotency-Key on every attempt.
 * @example
 * const dependencies = handmadeDependencies({ userUrl: 'http://127.0.0.1:4001', payment: ['127.0.0.1:4101'] });
 * const outcome = await dependencies.charge({ orderId: 'o1', amount: 10, currency: 'EUR', idempotencyKey: '"o1"' });
 * await dependencies.close();
 */
export function handmadeDependencies(options: { userUrl: string; payment: string[] }): Dependencies {
  return peerDependencies('handmade', options, (origins, budget) => new Stack(origins, budget));
}

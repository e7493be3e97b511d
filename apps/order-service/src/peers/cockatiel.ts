import {
  bulkhead,
  circuitBreaker,
  ConsecutiveBreaker,
  ExponentialBackoff,
  handleAll,
  retry,
  timeout,
  TimeoutStrategy,
  wrap,
  type IPolicy,
} from 'cockatiel';
import { Pool } from 'undici';
import type { Dependencies } from '../dependencies.ts';
import type { Budget } from './budget.ts';
import { exchange, isServerError, peerDependencies, type Call, type Reply } from './reply.ts';

/**
 * Errors, as `handleAll`, and 5xx replies: cockatiel's policies handle rejections only
 * unless told which results are failures (README, `handleWhenResult`), and undici resolves
 * a 503. Shared by the retry and the breakers, so a 5xx is retried and counted.
 */
const failures = handleAll.orWhenResult((reply) => isServerError(reply as Reply));

/** One endpoint: its pool, and its breaker wrapped around the attempt timeout and the bulkhead. */
interface Endpoint {
  pool: Pool;
  policy: IPolicy;
}

/**
 * One dependency through cockatiel 4, composed as its README's `wrap()` shows — retry
 * outside the breaker, the breaker outside the timeout — with a bulkhead innermost and a
 * total timeout outermost:
 *
 * - `timeout(total, TimeoutStrategy.Aggressive)` outermost: the call's budget (2 s; user
 *   1 s). Cockatiel's retry has no total-time knob; Polly's wiki (which the README points
 *   to) puts an overall timeout outside the retry and a per-try timeout inside it.
 * - `retry(failures, { maxAttempts: 2, backoff: new ExponentialBackoff({ initialDelay:
 *   100, maxDelay: 1_000 }) })`: `maxAttempts` counts retries in cockatiel's code (`retries
 *   < maxAttempts`), so 2 is 3 attempts; the backoff's default generator is decorrelated
 *   jitter (README: "a good default for most applications"); 100 ms is Lifeline's base.
 *   An open breaker is retried too: the retry goes to the next endpoint, round-robin.
 * - `circuitBreaker(failures, { halfOpenAfter: 10_000, breaker: new ConsecutiveBreaker(5) })`
 *   per endpoint — the README's example values.
 * - `timeout(attempt, TimeoutStrategy.Aggressive)` per attempt (600 ms; user 300 ms), its
 *   AbortSignal handed to undici so a timed-out attempt is cancelled, not left running.
 * - `bulkhead(100, 200)` per dependency: Lifeline's bulkhead defaults (100 in flight, 200
 *   queued); cockatiel's default queue is 0.
 */
class Stack {
  readonly #endpoints: Endpoint[];
  readonly #policy: IPolicy;
  /** Aborted by close(): in-flight calls are cancelled rather than waited for. */
  readonly #closing = new AbortController();
  #next = 0;
  #closed: Promise<void> | undefined;

  constructor(origins: string[], budget: Budget) {
    const attemptTimeout = timeout(budget.attemptMs, TimeoutStrategy.Aggressive);
    const slots = bulkhead(100, 200);
    this.#endpoints = origins.map((origin) => ({
      pool: new Pool(origin),
      policy: wrap(circuitBreaker(failures, { halfOpenAfter: 10_000, breaker: new ConsecutiveBreaker(5) }), attemptTimeout, slots),
    }));
    this.#policy = wrap(
      timeout(budget.totalMs, TimeoutStrategy.Aggressive),
      retry(failures, { maxAttempts: budget.attempts - 1, backoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: 1_000 }) }),
    );
  }

  call(call: Call): Promise<Reply> {
    return this.#policy.execute(({ signal }) => {
      const endpoint = this.#endpoints[this.#next++ % this.#endpoints.length]!;
      return endpoint.policy.execute((context) => exchange(endpoint.pool, call, context.signal), signal);
    }, this.#closing.signal);
  }

  /** Cancels what is in flight and closes the pools; once. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#closing.abort();
      await Promise.all(this.#endpoints.map(({ pool }) => pool.close()));
    })();
    return this.#closed;
  }
}

/**
 * The order service's dependencies through cockatiel's policies around undici (see `Stack`
 * for each choice and the doc it follows). Charges go round-robin over the static payment
 * endpoints, one endpoint per attempt, and carry the order's Idempotency-Key on every attempt.
 * @example
 * const dependencies = cockatielDependencies({ userUrl: 'http://127.0.0.1:4001', payment: ['127.0.0.1:4101'] });
 * const outcome = await dependencies.charge({ orderId: 'o1', amount: 10, currency: 'EUR', idempotencyKey: '"o1"' });
 * await dependencies.close();
 */
export function cockatielDependencies(options: { userUrl: string; payment: string[] }): Dependencies {
  return peerDependencies('cockatiel', options, (origins, budget) => new Stack(origins, budget));
}

import { Agent, RetryAgent } from 'undici';
import type { Dependencies } from '../dependencies.ts';
import type { Budget } from './budget.ts';
import { exchange, peerDependencies, type Call, type Reply } from './reply.ts';

/** RetryAgent's documented default `errorCodes` (undici docs, RetryAgent / RetryHandler). */
const DEFAULT_ERROR_CODES = ['ECONNRESET', 'ECONNREFUSED', 'ENOTFOUND', 'ENETDOWN', 'ENETUNREACH', 'EHOSTDOWN', 'EHOSTUNREACH', 'EPIPE', 'UND_ERR_SOCKET'];

/**
 * One dependency through undici's own `RetryAgent` over an `Agent` (undici 8 docs,
 * RetryAgent.md and RetryHandler.md):
 *
 * - `Agent({ headersTimeout, bodyTimeout, connect: { timeout } })` at the attempt budget
 *   (600 ms; user 300 ms): undici's defaults are 300 s for the first two and 10 s to connect.
 * - `maxRetries` = attempts − 1 (2); `minTimeout: 100` (Lifeline's base), `timeoutFactor: 2`,
 *   `maxTimeout: 1_000`. RetryHandler's backoff has no jitter: it has no knob for one.
 * - `retryAfter: true` (the default): a `Retry-After` sets the wait, capped at `maxTimeout`.
 * - `methods`: GET and POST — POST is not retried by default, and is safe here because every
 *   charge attempt carries the order's Idempotency-Key.
 * - `statusCodes`: the default `[500, 502, 503, 504, 429]`.
 * - `errorCodes`: the default, plus `UND_ERR_HEADERS_TIMEOUT` and `UND_ERR_CONNECT_TIMEOUT`,
 *   so an attempt that times out is retried like a refused one (the other peers retry their
 *   attempt timeouts). A body timeout is left out: once the headers have gone up, RetryHandler
 *   would resume with a Range request, which a charge cannot answer.
 * - `throwOnError: false`: the last failing reply is passed through with its body (docs:
 *   "useful when the error body is needed"), so it maps to an outcome like the others'.
 * - The total budget (2 s; user 1 s) is the request's `signal` (`AbortSignal.timeout`):
 *   RetryAgent has no total-time option.
 *
 * Retries go to the same origin (RetryHandler re-dispatches the same request); calls go
 * round-robin over the payment endpoints. There is no breaker and no bulkhead: undici has
 * neither.
 */
class Stack {
  readonly #agent: RetryAgent;
  readonly #origins: string[];
  readonly #totalMs: number;
  /** Aborted by close(): in-flight calls are cancelled rather than waited for. */
  readonly #closing = new AbortController();
  #next = 0;
  #closed: Promise<void> | undefined;

  constructor(origins: string[], budget: Budget) {
    this.#origins = origins;
    this.#totalMs = budget.totalMs;
    const agent = new Agent({ headersTimeout: budget.attemptMs, bodyTimeout: budget.attemptMs, connect: { timeout: budget.attemptMs } });
    this.#agent = new RetryAgent(agent, {
      maxRetries: budget.attempts - 1,
      minTimeout: 100,
      timeoutFactor: 2,
      maxTimeout: 1_000,
      retryAfter: true,
      methods: ['GET', 'POST'],
      statusCodes: [500, 502, 503, 504, 429],
      errorCodes: [...DEFAULT_ERROR_CODES, 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT'],
      throwOnError: false,
    });
  }

  call(call: Call): Promise<Reply> {
    const origin = this.#origins[this.#next++ % this.#origins.length]!;
    const signal = AbortSignal.any([this.#closing.signal, AbortSignal.timeout(this.#totalMs)]);
    return exchange(this.#agent, call, signal, origin);
  }

  /** Cancels what is in flight and closes the agent (RetryAgent closes the Agent it wraps); once. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#closing.abort();
      await this.#agent.close();
    })();
    return this.#closed;
  }
}

/**
 * The order service's dependencies through undici's `RetryAgent` (see `Stack` for each
 * choice and the doc it follows). Charges go round-robin over the static payment endpoints,
 * one endpoint per call, and carry the order's Idempotency-Key on every attempt.
 * @example
 * const dependencies = retryAgentDependencies({ userUrl: 'http://127.0.0.1:4001', payment: ['127.0.0.1:4101'] });
 * const outcome = await dependencies.charge({ orderId: 'o1', amount: 10, currency: 'EUR', idempotencyKey: '"o1"' });
 * await dependencies.close();
 */
export function retryAgentDependencies(options: { userUrl: string; payment: string[] }): Dependencies {
  return peerDependencies('retry-agent', options, (origins, budget) => new Stack(origins, budget));
}

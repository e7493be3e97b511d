import { isLimiter } from '@lifeline/bulkhead';
import { Agent, Pool, type Dispatcher } from 'undici';
import type { DispatcherOptions, LifelineOptions } from './options.ts';
import { Pipeline, type ClientSnapshot, type LifelineInterceptor } from './pipeline.ts';
import { resolveOptions } from './resolve-options.ts';

/**
 * The whole outgoing pipeline as one undici interceptor: deadline and request id, the
 * limiter (bulkhead), budgeted retries, routing (the breaker, or discovery's endpoints with
 * P2C and ejection), the per-attempt timeout and the wire headers, spans and metrics. The
 * same options and the same chain as {@link createClient}, for `fetch()` and
 * `undici.request()`: compose it into an `Agent` or `Pool`, or take {@link createDispatcher}.
 *
 * Statuses are not turned into errors: when retries end, the last response is what the
 * caller receives (also when the breaker opens before a retry: the answer wins). A failure
 * with no response rejects fetch with a `TypeError` whose `cause` is the Lifeline error
 * (`CIRCUIT_OPEN`, `BULKHEAD_REJECTED`, `DEADLINE_EXCEEDED`…). A POST or PATCH is retried
 * only when it carries an `Idempotency-Key` header; a body is sent again when fetch knows
 * its length (a string, bytes, `URLSearchParams`, a `Blob`, a `FormData`), never a stream.
 *
 * @example
 * import { Agent, fetch } from 'undici';
 * const dispatcher = new Agent().compose(lifeline({ timeout: 5_000 }));
 * const res = await fetch('http://127.0.0.1:8080/users/1', { dispatcher });
 */
export function lifeline(options: LifelineOptions = {}): LifelineInterceptor {
  return new Pipeline(resolveOptions(options, 'lifeline'), !isLimiter(options.bulkhead)).interceptor;
}

/**
 * {@link lifeline} under its earlier name.
 *
 * @example
 * const dispatcher = new Agent().compose(createInterceptor({ name: 'users', timeout: 5_000 }));
 */
export const createInterceptor: (options?: LifelineOptions) => LifelineInterceptor = lifeline;

/**
 * The dispatcher {@link createDispatcher} returns: an undici `Dispatcher` with the pipeline
 * composed in, and the pipeline's state for a dashboard.
 *
 * @example
 * const dispatcher: LifelineDispatcher = createDispatcher({ baseUrl: 'http://127.0.0.1:8080' });
 * console.log(dispatcher.snapshot().breaker?.state);
 */
export interface LifelineDispatcher extends Dispatcher {
  /**
   * Calls in flight, the retry budget, the breaker, the limiter and, with discovery, every
   * endpoint (health, breaker, ejection), as plain JSON: what `lifeline()`'s interceptor and a
   * client report.
   */
  snapshot(): ClientSnapshot;
}

/**
 * A dispatcher with the whole pipeline composed in: pass it as `dispatcher` to `fetch()` or
 * `undici.request()`. With `baseUrl`, a `Pool` for that origin; with `service` and
 * `discovery`, an `Agent` that reaches each picked endpoint (the URL names the service:
 * `http://payment/charges`); with neither, an `Agent` for any origin, a breaker per origin.
 * Its `snapshot()` reports the pipeline's state as plain JSON.
 *
 * @example
 * import { fetch } from 'undici';
 * const dispatcher = createDispatcher({ baseUrl: 'http://127.0.0.1:8080', timeout: 3_000 });
 * const res = await fetch('http://127.0.0.1:8080/health', { dispatcher });
 * console.log(dispatcher.snapshot().breaker?.state); // 'closed'
 */
export function createDispatcher(options: DispatcherOptions = {}): LifelineDispatcher {
  const resolved = resolveOptions(options, 'dispatcher');
  const pipeline = new Pipeline(resolved, !isLimiter(options.bulkhead));
  const pool = { connections: resolved.connections ?? null, pipelining: resolved.pipelining ?? 1 };
  const base = resolved.origin !== '' ? new Pool(resolved.origin, pool) : new Agent(pool);
  return Object.assign(base.compose(pipeline.interceptor), { snapshot: () => pipeline.snapshot() });
}

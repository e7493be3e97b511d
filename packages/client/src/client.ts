import { setMaxListeners } from 'node:events';
import type { BreakerSnapshot, CircuitBreaker } from '@lifeline/breaker';
import type { Bulkhead, BulkheadSnapshot } from '@lifeline/bulkhead';
import type { PoolSnapshot, ServicePool } from '@lifeline/discovery';
import {
  abortError,
  checkOptionNames,
  isLifelineError,
  CoarseTimer,
  Deadline,
  HttpStatusError,
  LifelineError,
  systemClock,
  type Disposable,
  type Event,
} from '@lifeline/core';
import { isTransientStatus, parseRetryAfter, rateLimitWaitMs, type GiveUpEvent, type RetryBudgetSnapshot, type RetryEvent, type RetryPolicy } from '@lifeline/retry';
import { currentRequestContext, newRequestId, parentContext, REQUEST_ID } from '@lifeline/trace';
import { Agent, Pool, type Dispatcher } from 'undici';
import { Call, type CallSettings } from './call.ts';
import { isIdempotentMethod, newIdempotencyKey, quoteIdempotencyKey } from './idempotency.ts';
import {
  callDuration,
  CALL_OPTION_NAMES,
  CALL_OPTIONS,
  isReplayable,
  resolveClientOptions,
  type ClientOptions,
  type Logger,
  type QueryValue,
  type RequestOptions,
} from './options.ts';
import { ResponseCollector, type LifelineResponse } from './response.ts';
import { startCallTrace, Telemetry } from './telemetry.ts';

type VerbOptions = Omit<RequestOptions, 'method' | 'path'>;

/**
 * An HTTP client for one dependency, over an undici pool: every call has a total deadline
 * and a per-attempt timeout, retries transient failures inside a retry budget, and fails
 * with a typed {@link LifelineError} that says what happened.
 *
 * @example
 * const payment = createClient({ name: 'payment', baseUrl: 'http://127.0.0.1:8080' });
 * const res = await payment.post('/charges', { json: { amount: 42 }, idempotent: true });
 * console.log(res.status, await res.body.json());
 * await payment.close();
 */
/** What `LifelineClient.snapshot()` reports. */
export interface ClientSnapshot {
  name: string;
  inFlight: number;
  retryBudget: RetryBudgetSnapshot | undefined;
  breaker: BreakerSnapshot | undefined;
  bulkhead: BulkheadSnapshot | undefined;
  pool: PoolSnapshot | undefined;
}

export class LifelineClient {
  readonly name: string;
  /** The retry policy; its budget is shared by every call of this client. */
  readonly retry: RetryPolicy;
  /** The circuit breaker every attempt goes through, if any. */
  readonly breaker: CircuitBreaker | undefined;
  /** The bulkhead around whole calls, if any. */
  readonly bulkhead: Bulkhead | undefined;
  /** With discovery: the service's endpoints and balancer (shared with other clients of the service). */
  readonly pool: ServicePool | undefined;
  /** Fires before each retry's wait. */
  readonly onRetry: Event<RetryEvent>;
  /** Fires when a failed attempt is final, with the reason no retry followed. */
  readonly onGiveUp: Event<GiveUpEvent>;

  readonly #origin: string;
  readonly #prefix: string;
  readonly #timeout: number;
  readonly #headers: Record<string, string>;
  readonly #throwOnHttpError: boolean;
  readonly #settings: CallSettings;
  readonly #pool: Pool | Agent | undefined;
  readonly #dispatch: Dispatcher.Dispatch;
  readonly #timer: CoarseTimer;
  readonly #telemetry: Telemetry;
  // Calls in flight, as an intrusive list through the calls themselves. A Set with an
  // add/delete per request measurably pushed the client into heavy young-generation GC
  // (see bench/README.md); linking costs two field writes.
  #inFlightHead: Call | null = null;
  #inFlightCount = 0;
  readonly #closer = new AbortController();
  readonly #subscriptions: Disposable[] = [];
  #closed = false;
  #drained: (() => void) | undefined;
  readonly #onSettled = (call: Call): void => {
    const { prevInFlight: prev, nextInFlight: next } = call;
    if (prev === null) this.#inFlightHead = next;
    else prev.nextInFlight = next;
    if (next !== null) next.prevInFlight = prev;
    call.prevInFlight = call.nextInFlight = null;
    this.bulkhead?.release();
    if (--this.#inFlightCount === 0) this.#drained?.();
  };

  constructor(options: ClientOptions) {
    const resolved = resolveClientOptions(options);
    this.name = resolved.name;
    this.retry = resolved.retry;
    this.breaker = resolved.breaker;
    this.bulkhead = resolved.bulkhead;
    this.pool = resolved.discovery?.pool(resolved.service!);
    this.onRetry = this.retry.onRetry;
    this.onGiveUp = this.retry.onGiveUp;
    this.#origin = resolved.origin;
    this.#prefix = resolved.prefix;
    this.#timeout = resolved.timeout;
    this.#headers = resolved.headers;
    this.#throwOnHttpError = resolved.throwOnHttpError;
    const clock = options.clock ?? systemClock;
    this.#timer = new CoarseTimer({ clock });
    this.#telemetry = new Telemetry(this.name, options);
    this.#telemetry.observe({ breaker: this.breaker, bulkhead: this.bulkhead, pool: this.pool });
    this.#settings = {
      service: this.name,
      retry: this.retry,
      attemptTimeout: resolved.attemptTimeout,
      timer: this.#timer,
      clock,
      breaker: this.breaker,
      pool: this.pool,
      ownHeaders: true,
      telemetry: this.#telemetry,
    };
    if (this.pool !== undefined) {
      // Many origins, one per endpoint: an Agent keeps a pool per origin.
      const agent = new Agent({ connections: resolved.connections ?? null, pipelining: resolved.pipelining ?? 1 });
      this.#pool = agent;
      this.#dispatch = (opts, handler) => agent.dispatch(opts, handler);
    } else if (options.dispatcher === undefined) {
      this.#pool = new Pool(this.#origin, { connections: resolved.connections ?? null, pipelining: resolved.pipelining ?? 1 });
      const pool = this.#pool;
      this.#dispatch = (opts, handler) => pool.dispatch(opts, handler);
    } else {
      const dispatcher = options.dispatcher;
      this.#dispatch = (opts, handler) => dispatcher.dispatch(opts, handler);
    }
    // Every sleeping retry listens to this one signal; there can be many at once.
    setMaxListeners(0, this.#closer.signal);
    if (options.logger !== undefined) this.#log(options.logger);
  }

  /**
   * Sends a request under the client's policy. Resolves when response headers arrive; the
   * body is read through `response.body`. Made while a request is handled by
   * `@lifeline/server`, the call inherits that request's deadline, cancellation, request id
   * and trace. Rejects with a Lifeline error: `DEADLINE_EXCEEDED`,
   * `ATTEMPT_TIMEOUT`, `CONNECT`, `SOCKET`, `RETRY_BUDGET_EXHAUSTED`, `CIRCUIT_OPEN`, `NO_ENDPOINTS`, `ABORTED`, or
   * `HTTP_STATUS` for a final status >= 400 (unless `throwOnHttpError` is false).
   *
   * @example
   * const res = await client.request({ method: 'GET', path: '/users/1', timeout: 1_000 });
   */
  async request(options: RequestOptions): Promise<LifelineResponse> {
    if (this.#closed) throw new LifelineError('ABORTED', `${this.name}: the client is closed`, { service: this.name });
    // A misspelt option is refused, not ignored (`timout` would leave the default deadline):
    // a for-in over the call's few own keys, about 25 ns a call (mitata), under 0.1 % of its CPU.
    for (const key in options) if (CALL_OPTIONS[key] !== true) checkOptionNames('', options, CALL_OPTION_NAMES);
    const method = options.method ?? 'GET';
    const path = options.path;
    if (typeof path !== 'string' || path[0] !== '/') {
      throw new TypeError(`lifeline: option \`path\` must be a string starting with "/", got ${JSON.stringify(path)}`);
    }
    // Inside a request being handled: its deadline and its cancellation bound this call too.
    const inbound = currentRequestContext();
    let signal = options.signal;
    if (inbound?.signal !== undefined) signal = signal === undefined ? inbound.signal : AbortSignal.any([signal, inbound.signal]);
    if (signal?.aborted) throw abortError(signal);

    let headers: Record<string, string | string[] | undefined> = this.#headers;
    let body = options.body;
    if (options.json !== undefined) {
      body = JSON.stringify(options.json);
      headers = { ...headers, 'content-type': 'application/json' };
    }
    if (options.headers !== undefined) headers = { ...headers, ...lowerCaseKeys(options.headers) };
    let idempotent = isIdempotentMethod(method);
    if (options.idempotencyKey !== undefined || options.idempotent === true) {
      const key = options.idempotencyKey === undefined ? newIdempotencyKey() : quoteIdempotencyKey(options.idempotencyKey);
      if (!idempotent) headers = { ...headers, 'idempotency-key': key };
      idempotent = true;
    }
    const replayable = isReplayable(body);

    const timeout = options.timeout === undefined ? this.#timeout : callDuration('timeout', options.timeout);
    const clock = this.#settings.clock;
    const own = timeout === Infinity ? undefined : Deadline.after(timeout, clock);
    const deadline = Deadline.earliest(Deadline.earliest(own, options.deadline), inbound?.deadline) ?? Deadline.after(Infinity, clock);
    const settings =
      options.attemptTimeout === undefined
        ? this.#settings
        : { ...this.#settings, attemptTimeout: callDuration('attemptTimeout', options.attemptTimeout) };

    // The first call of a service may come before the resolver's first answer: wait for it, inside the deadline.
    if (this.pool !== undefined && !this.pool.resolved) await this.pool.ready(deadline, signal);

    const bulkhead = this.bulkhead;
    if (bulkhead !== undefined && !bulkhead.tryAcquire()) {
      try {
        await bulkhead.acquire({ deadline, signal });
      } catch (error) {
        if (isLifelineError(error)) error.service = this.name;
        throw error;
      }
    }

    const collector = new ResponseCollector();
    const dispatchOptions: Dispatcher.DispatchOptions = {
      origin: this.#origin,
      path: this.#prefix + (options.query === undefined ? path : withQuery(path, options.query)),
      method,
      headers,
      body: body as Dispatcher.DispatchOptions['body'],
    };
    const callSignal = signal === undefined ? this.#closer.signal : AbortSignal.any([signal, this.#closer.signal]);
    const ownId = headers[REQUEST_ID];
    const requestId = typeof ownId === 'string' ? ownId : (inbound?.requestId ?? newRequestId());
    const callTrace = startCallTrace(this.#telemetry, method, parentContext(inbound), requestId);
    const call = new Call(settings, this.#dispatch, dispatchOptions, collector, deadline, callSignal, idempotent, replayable, callTrace);
    this.#track(call, signal);
    call.start();

    const response = await collector.promise;
    response.attempts = call.attempts;
    if (response.status >= 400 && (options.throwOnHttpError ?? this.#throwOnHttpError)) {
      const { status, headers: responseHeaders } = response;
      throw new HttpStatusError(status, responseHeaders, await response.body.excerpt().catch(() => ''), {
        service: this.name,
        retryable: idempotent && replayable && isTransientStatus(status, { idempotent }),
        attempts: call.attempts,
        retryAfterMs: parseRetryAfter(responseHeaders['retry-after']) ?? rateLimitWaitMs(responseHeaders),
      });
    }
    return response;
  }

  /** @example const user = await (await client.get('/users/1')).body.json(); */
  get(path: string, options?: VerbOptions): Promise<LifelineResponse> {
    return this.request({ ...options, method: 'GET', path });
  }

  /** @example await client.head('/health'); */
  head(path: string, options?: VerbOptions): Promise<LifelineResponse> {
    return this.request({ ...options, method: 'HEAD', path });
  }

  /** @example await client.post('/charges', { json: { amount: 42 }, idempotent: true }); */
  post(path: string, options?: VerbOptions): Promise<LifelineResponse> {
    return this.request({ ...options, method: 'POST', path });
  }

  /** @example await client.put('/users/1', { json: user }); */
  put(path: string, options?: VerbOptions): Promise<LifelineResponse> {
    return this.request({ ...options, method: 'PUT', path });
  }

  /** @example await client.patch('/users/1', { json: { name: 'Ada' }, idempotent: true }); */
  patch(path: string, options?: VerbOptions): Promise<LifelineResponse> {
    return this.request({ ...options, method: 'PATCH', path });
  }

  /** @example await client.delete('/sessions/abc'); */
  delete(path: string, options?: VerbOptions): Promise<LifelineResponse> {
    return this.request({ ...options, method: 'DELETE', path });
  }

  /** Calls in flight (including those waiting to retry). */
  get inFlight(): number {
    return this.#inFlightCount;
  }

  /**
   * The client's resilience state as plain JSON: calls in flight, the retry budget, the
   * breaker, the bulkhead, and with discovery every endpoint (health, breaker, ejection).
   * What a dashboard or an `/admin/resilience` endpoint shows.
   */
  snapshot(): ClientSnapshot {
    return {
      name: this.name,
      inFlight: this.#inFlightCount,
      retryBudget: this.retry.budget?.snapshot(),
      breaker: this.breaker?.snapshot(),
      bulkhead: this.bulkhead?.snapshot(),
      pool: this.pool?.snapshot(),
    };
  }

  /**
   * Stops taking calls, lets the ones in flight finish (each is bounded by its deadline),
   * then releases every socket and timer.
   */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#inFlightCount > 0) await new Promise<void>((resolve) => (this.#drained = resolve));
    await this.#release(false);
  }

  /** Aborts every call in flight at once, then releases every socket and timer. */
  async destroy(): Promise<void> {
    this.#closed = true;
    const reason = new LifelineError('ABORTED', `${this.name}: the client was destroyed`, { service: this.name });
    this.#closer.abort(reason);
    const calls: Call[] = [];
    for (let call = this.#inFlightHead; call !== null; call = call.nextInFlight) calls.push(call);
    for (const call of calls) call.abort(reason);
    await this.#release(true);
  }

  async #release(force: boolean): Promise<void> {
    for (const s of this.#subscriptions.splice(0)) s.dispose();
    this.#telemetry.close();
    this.#timer.close();
    this.bulkhead?.close();
    if (this.#pool !== undefined && !this.#pool.closed && !this.#pool.destroyed) {
      await (force ? this.#pool.destroy() : this.#pool.close());
    }
  }

  #track(call: Call, signal: AbortSignal | undefined): void {
    const head = this.#inFlightHead;
    call.nextInFlight = head;
    if (head !== null) head.prevInFlight = call;
    this.#inFlightHead = call;
    this.#inFlightCount++;
    if (signal === undefined) {
      call.onSettled = this.#onSettled;
      return;
    }
    const onAbort = (): void => call.abort(abortError(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    call.onSettled = (settled) => {
      signal.removeEventListener('abort', onAbort);
      this.#onSettled(settled);
    };
  }

  #log(logger: Logger): void {
    const budget = this.retry.budget;
    if (budget === undefined) return;
    this.#subscriptions.push(
      budget.onExhausted((snapshot) => logger.warn({ service: this.name, budget: snapshot }, 'retry budget exhausted: retries refused')),
      budget.onRecovered((snapshot) => logger.info({ service: this.name, budget: snapshot }, 'retry budget recovered')),
    );
  }
}

/**
 * Creates a client for one dependency.
 *
 * @example
 * const users = createClient({ name: 'users', baseUrl: 'http://127.0.0.1:3001', timeout: 2_000 });
 */
export function createClient(options: ClientOptions): LifelineClient {
  return new LifelineClient(options);
}

function lowerCaseKeys(headers: Record<string, string | string[] | undefined>): Record<string, string | string[] | undefined> {
  const out: Record<string, string | string[] | undefined> = {};
  for (const key in headers) out[key.toLowerCase()] = headers[key];
  return out;
}

function withQuery(path: string, query: Record<string, QueryValue>): string {
  const params = new URLSearchParams();
  for (const key in query) {
    const value = query[key];
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const v of value as readonly (string | number | boolean)[]) params.append(key, String(v));
    else params.append(key, String(value));
  }
  const search = params.toString();
  return search === '' ? path : `${path}${path.includes('?') ? '&' : '?'}${search}`;
}

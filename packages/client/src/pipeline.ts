import type { AdaptiveThrottle, AdaptiveThrottleSnapshot, Breaker, BreakerGroup, BreakerSnapshot } from '@lifeline/breaker';
import type { BulkheadSnapshot, Limiter, LimiterSnapshot } from '@lifeline/bulkhead';
import { CoarseTimer, type Disposable } from '@lifeline/core';
import type { PoolSnapshot, ServicePool } from '@lifeline/discovery';
import type { RetryBudgetSnapshot, RetryPolicy } from '@lifeline/retry';
import { setMaxListeners } from 'node:events';
import type { Dispatcher } from 'undici';
import { attemptStage } from './attempt-stage.ts';
import { CallHandler } from './call-handler.ts';
import type { CallSettings, LifelineDispatchOptions } from './call-settings.ts';
import { LegacyHandler } from './legacy-handler.ts';
import { limiterStage } from './limiter-stage.ts';
import type { ResolvedOptions } from './resolve-options.ts';
import { retryStage } from './retry-stage.ts';
import { routeStage } from './route-stage.ts';
import { Telemetry } from './telemetry.ts';

/** The state of a pipeline (a client's, a dispatcher's) as plain JSON: what `snapshot()` reports. */
export interface ClientSnapshot {
  name: string;
  inFlight: number;
  retryBudget: RetryBudgetSnapshot | undefined;
  breaker: BreakerSnapshot | undefined;
  /** The limiter's: a `Bulkhead`'s has its queue limit and rejections too. */
  bulkhead: (LimiterSnapshot & Partial<Omit<BulkheadSnapshot, keyof LimiterSnapshot>>) | undefined;
  pool: PoolSnapshot | undefined;
  /** Client-side adaptive throttling: requests and accepts over its window, and the probability the next attempt is rejected locally. */
  throttle: AdaptiveThrottleSnapshot | undefined;
}

/** The composed undici interceptor {@link lifeline} returns, with its state for a dashboard. */
export interface LifelineInterceptor extends Dispatcher.DispatcherComposeInterceptor {
  /** Calls in flight, the retry budget, the breaker, the limiter, the endpoints and the throttle, as plain JSON. */
  snapshot(): ClientSnapshot;
}

/**
 * The one outgoing pipeline, built once from resolved options: the parts every call goes
 * through (limiter, retry policy, breaker or discovered endpoints, telemetry, the coarse
 * deadline timer) and the chain of undici interceptors over them, in a fixed order —
 * call → limiter → retry → route (throttle, then breaker or endpoint) → attempt — each a small factory handing the work to a
 * handler class. The call stage makes each call's state once ({@link CallHandler}); it
 * travels down in the dispatch options. The client facade and the fetch dispatcher both
 * run on this one chain.
 *
 * @internal
 */
export class Pipeline {
  readonly name: string;
  readonly retry: RetryPolicy;
  readonly breaker: Breaker | undefined;
  readonly breakers: BreakerGroup | undefined;
  readonly limiter: Limiter | undefined;
  readonly pool: ServicePool | undefined;
  readonly throttle: AdaptiveThrottle | undefined;
  readonly settings: CallSettings;
  readonly interceptor: LifelineInterceptor;
  readonly #timer: CoarseTimer;
  readonly #telemetry: Telemetry;
  readonly #closer = new AbortController();
  readonly #subscriptions: Disposable[] = [];
  readonly #ownsLimiter: boolean;
  /** The origins a request from fetch / undici.request may name; undefined: any. */
  readonly #origins: readonly string[] | undefined;
  readonly #expected: string;
  // Calls in flight, as an intrusive list through the calls themselves. A Set with an
  // add/delete per request measurably pushed the client into heavy young-generation GC
  // (see bench/README.md); linking costs two field writes.
  #inFlightHead: CallHandler | null = null;
  #inFlightCount = 0;
  #drained: (() => void) | undefined;
  readonly #onSettled = (call: CallHandler): void => this.#untrack(call);

  constructor(resolved: ResolvedOptions, ownsLimiter: boolean) {
    this.name = resolved.name;
    this.retry = resolved.retry;
    this.breaker = resolved.breaker;
    this.breakers = resolved.breakers;
    this.limiter = resolved.limiter;
    this.throttle = resolved.throttle;
    this.#ownsLimiter = ownsLimiter;
    const service = resolved.service;
    this.pool = service === undefined ? undefined : resolved.discovery!.pool(service);
    this.#timer = new CoarseTimer({ clock: resolved.clock });
    this.#telemetry = new Telemetry(this.name, resolved.telemetry);
    this.#telemetry.observe({ breaker: this.breaker, bulkhead: this.limiter, pool: this.pool, throttle: this.throttle });
    // Every sleeping retry listens to this one signal; there can be many at once.
    setMaxListeners(0, this.#closer.signal);
    const headers = resolved.headers;
    this.settings = {
      service: this.name,
      retry: this.retry,
      timeout: resolved.timeout,
      attemptTimeout: resolved.attemptTimeout,
      timer: this.#timer,
      clock: resolved.clock,
      breaker: this.breaker,
      breakers: this.breakers,
      pool: this.pool,
      limiter: this.limiter,
      headers: Object.keys(headers).length === 0 ? undefined : headers,
      closeSignal: this.#closer.signal,
      telemetry: this.#telemetry,
    };
    if (service !== undefined) {
      // Through fetch the URL names the service (http://payment/charges); the picked endpoint replaces its origin.
      this.#origins = [new URL(`http://${service}`).origin, new URL(`https://${service}`).origin];
      this.#expected = `http://${service} (the service it routes to)`;
    } else if (resolved.origin !== '') {
      this.#origins = [resolved.origin];
      this.#expected = `${resolved.origin} (its baseUrl)`;
    } else {
      this.#origins = undefined;
      this.#expected = '';
    }
    if (resolved.logger !== undefined && this.retry.budget !== undefined) {
      const { logger } = resolved;
      const budget = this.retry.budget;
      this.#subscriptions.push(
        budget.onExhausted((snapshot) => logger.warn({ service: this.name, budget: snapshot }, 'retry budget exhausted: retries refused')),
        budget.onRecovered((snapshot) => logger.info({ service: this.name, budget: snapshot }, 'retry budget recovered')),
      );
    }
    const settings = this.settings;
    const throttle = this.throttle;
    const below = (dispatch: Dispatcher.Dispatch): Dispatcher.Dispatch =>
      limiterStage(settings.limiter)(retryStage(settings)(routeStage(settings, throttle)(attemptStage(settings)(dispatch))));
    const chain = (dispatch: Dispatcher.Dispatch): Dispatcher.Dispatch => {
      const next = below(dispatch);
      return (opts, handler) => this.#call(next, opts, handler);
    };
    this.interceptor = Object.assign(chain, { snapshot: () => this.snapshot() });
  }

  /** Calls in flight (including those waiting for a slot or to retry). */
  get inFlight(): number {
    return this.#inFlightCount;
  }

  snapshot(): ClientSnapshot {
    return {
      name: this.name,
      inFlight: this.#inFlightCount,
      retryBudget: this.retry.budget?.snapshot(),
      breaker: this.breaker?.snapshot(),
      bulkhead: this.limiter?.snapshot(),
      pool: this.pool?.snapshot(),
      throttle: this.throttle?.snapshot(),
    };
  }

  /** Resolves once no call is in flight. */
  drained(): Promise<void> {
    if (this.#inFlightCount === 0) return Promise.resolve();
    return new Promise<void>((resolve) => (this.#drained = resolve));
  }

  /** Ends every call in flight now with `reason`, retry waits included. */
  abortAll(reason: Error): void {
    this.#closer.abort(reason);
    const calls: CallHandler[] = [];
    for (let call = this.#inFlightHead; call !== null; call = call.nextInFlight) calls.push(call);
    for (const call of calls) call.abort(reason);
  }

  /** Releases the timer, the metric callbacks, the log subscriptions and a limiter of its own. */
  close(): void {
    for (const s of this.#subscriptions.splice(0)) s.dispose();
    this.#telemetry.close();
    this.#timer.close();
    if (this.#ownsLimiter) this.limiter?.close();
  }

  /** The call stage: every request dispatched through the pipeline becomes one {@link CallHandler}. */
  #call(dispatch: Dispatcher.Dispatch, opts: LifelineDispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    // Node's global fetch bundles an older undici that passes old-style handlers.
    if (LegacyHandler.isLegacy(handler)) handler = new LegacyHandler(handler);
    if (opts.lifeline === undefined && this.#origins !== undefined) {
      const given = opts.origin;
      const origin = typeof given === 'string' ? given : given === undefined ? '' : given.origin;
      if (!this.#origins.includes(origin)) {
        handler.onResponseError?.(
          null as unknown as Dispatcher.DispatchController,
          new TypeError(`lifeline: ${this.name} sends to ${this.#expected}; a request for ${JSON.stringify(origin)} is refused (use a dispatcher of its own for another origin)`),
        );
        return false;
      }
    }
    const call = new CallHandler(this.settings, opts, handler);
    this.#track(call);
    call.start(dispatch);
    return true;
  }

  #track(call: CallHandler): void {
    const head = this.#inFlightHead;
    call.nextInFlight = head;
    if (head !== null) head.prevInFlight = call;
    this.#inFlightHead = call;
    this.#inFlightCount++;
    call.onSettled = this.#onSettled;
  }

  #untrack(call: CallHandler): void {
    const { prevInFlight: prev, nextInFlight: next } = call;
    if (prev === null) this.#inFlightHead = next;
    else prev.nextInFlight = next;
    if (next !== null) next.prevInFlight = prev;
    call.prevInFlight = call.nextInFlight = null;
    if (--this.#inFlightCount === 0) this.#drained?.();
  }
}

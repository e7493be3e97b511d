import type { AdaptiveThrottle, Breaker } from '@lifeline/breaker';
import { HttpStatusError, isLifelineError, withoutStack } from '@lifeline/core';
import type { Endpoint } from '@lifeline/discovery';
import type { Dispatcher } from 'undici';
import { CALL, type CallSettings, type CallState, type StageOptions } from './call-settings.ts';
import { refusedChannel, type RefusedMessage } from './diagnostics.ts';
import { isReplayed, LostAnswer, mayBeLostAnswer, settleLostAnswers } from './lost-answer.ts';

type Headers = Record<string, string | string[] | undefined>;

/**
 * Where one attempt goes and what it teaches. With discovery, an endpoint picked by the
 * balancer (never one this call already failed on while another can take it), its origin
 * put on the request; else the request's origin through the dependency's breaker (or the
 * origin's own, for an interceptor that serves any origin). An open breaker or an empty
 * pool refuses the attempt before anything is sent. Then the dependency's adaptive
 * throttle: a rejected attempt gives its endpoint or breaker ticket back and fails at once
 * with `THROTTLED`. A probe of a half-open breaker is never throttled — it is how the
 * breaker learns the dependency is back — and when its probes close a breaker the throttle
 * forgets its window: it measured an outage that is over, and would otherwise keep rejecting
 * most attempts for a couple of windows after the dependency recovered (the breaker answers
 * outages, the throttle overload). The outcome — at response headers (a
 * 5xx is a failure, slowness is judged by the time to headers) or at the failure before
 * them — goes back to the breaker and the balancer; an attempt the caller abandoned says
 * nothing about the dependency and is cancelled. A keyed attempt whose connection closed with
 * no answer is held instead ({@link LostAnswer}): the next response of the call says whether
 * its work was done (a replayed answer), and the call's end makes any still held a failure.
 *
 * The throttle learns from every attempt that was sent and not cancelled (one refused by the
 * breaker or the pool was not sent, and says nothing of what the dependency accepts). It
 * counts as accepted any response but 429, 502, 503 and 504: those are the dependency, or a
 * proxy in front of it, refusing the work for overload or unavailability, and so is a
 * failure before any response (refused, reset, no headers in time). A 500 is accepted: the
 * dependency took the request and processed it, and throttling on it would turn one failing
 * route into local rejection of every call; the breaker is what answers errors.
 *
 * Callbacks pass through unchanged, with the attempt's own controller.
 *
 * @internal
 */
export class RouteHandler implements Dispatcher.DispatchHandler {
  readonly #settings: CallSettings;
  readonly #throttle: AdaptiveThrottle | undefined;
  readonly #upstream: Dispatcher.DispatchHandler;
  readonly #call: CallState;
  #breaker: Breaker | undefined;
  #endpoint: Endpoint | undefined;
  /** The breaker ticket; -1 once the outcome is reported (or when the attempt goes around the breaker). */
  #ticket = -1;
  #open = false;
  /** The attempt is a half-open breaker's probe (known only with a throttle, the one that needs it). */
  #probe = false;
  #startedAt = 0;

  constructor(settings: CallSettings, throttle: AdaptiveThrottle | undefined, call: CallState, upstream: Dispatcher.DispatchHandler) {
    this.#settings = settings;
    this.#throttle = throttle;
    this.#call = call;
    this.#upstream = upstream;
  }

  start(dispatch: Dispatcher.Dispatch, options: StageOptions): void {
    const settings = this.#settings;
    const call = options[CALL];
    const throttle = this.#throttle;
    const pool = settings.pool;
    let routed = options;
    if (pool !== undefined) {
      // A retry avoids every endpoint this call has already failed on.
      const last = call.endpoint;
      const failedOn = call.failedOn;
      if (last !== undefined && last !== failedOn) {
        if (failedOn === undefined) call.failedOn = last;
        else if (failedOn instanceof Set) failedOn.add(last);
        else call.failedOn = new Set([failedOn, last]);
      }
      const endpoint = pool.pick(call.failedOn);
      if (endpoint === undefined) return this.#refuse(pool.unavailableError());
      const ticket = pool.begin(endpoint);
      if (throttle !== undefined) {
        // A probe of a half-open endpoint is the breaker's own measured test: never throttled.
        this.#probe = endpoint.probing;
        if (!this.#probe && !throttle.tryAcquire()) {
          pool.cancelled(endpoint, ticket);
          return this.#refuse(throttle.rejection());
        }
      }
      call.endpoint = this.#endpoint = endpoint;
      this.#ticket = ticket;
      routed = { ...options, origin: endpoint.origin };
    } else {
      const given = options.origin;
      const breaker = settings.breaker ?? settings.breakers?.get(typeof given === 'string' ? given : given === undefined ? '' : given.origin);
      let ticket = -1;
      if (breaker !== undefined) {
        try {
          ticket = breaker.acquire();
        } catch (error) {
          // Open: fail fast. CIRCUIT_OPEN is not retryable, so no retry waits on an open breaker.
          return this.#refuse(error instanceof Error ? error : new Error(String(error)));
        }
      }
      if (throttle !== undefined) {
        this.#probe = breaker !== undefined && breaker.state === 'half-open';
        if (!this.#probe && !throttle.tryAcquire()) {
          breaker?.cancel(ticket);
          return this.#refuse(throttle.rejection());
        }
      }
      this.#ticket = ticket;
      this.#breaker = breaker;
    }
    this.#open = true;
    this.#startedAt = settings.clock.now();
    dispatch(routed, this);
  }

  onRequestStart(controller: Dispatcher.DispatchController, context: unknown): void {
    this.#upstream.onRequestStart?.(controller, context);
  }

  onResponseStart(controller: Dispatcher.DispatchController, status: number, headers: Headers, statusText?: string): void {
    // An earlier attempt's answer was lost: a replayed answer shows its work was done.
    if (this.#open && this.#call.lostAnswers !== undefined) settleLostAnswers(this.#call, isReplayed(headers));
    this.#outcome(status, undefined);
    this.#upstream.onResponseStart?.(controller, status, headers, statusText);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.#upstream.onResponseData?.(controller, chunk);
  }

  onResponseEnd(controller: Dispatcher.DispatchController, trailers: Headers): void {
    this.#upstream.onResponseEnd?.(controller, trailers);
  }

  onResponseError(controller: Dispatcher.DispatchController | null, error: Error): void {
    this.#outcome(0, error);
    this.#upstream.onResponseError?.(controller as Dispatcher.DispatchController, error);
  }

  /** Nothing is sent: the refusal is an event on the call's span (a throttled one is counted) and the attempt's failure. */
  #refuse(error: Error): void {
    this.#settings.telemetry.refused(this.#call.trace.span, error);
    if (refusedChannel.hasSubscribers) {
      const message: RefusedMessage = { service: this.#call.service, error };
      refusedChannel.publish(message);
    }
    this.#upstream.onResponseError?.(null as unknown as Dispatcher.DispatchController, error);
  }

  #hold(error: unknown, elapsed: number): void {
    const call = this.#call;
    const pool = this.#settings.pool;
    const endpoint = this.#endpoint;
    const target = pool !== undefined && endpoint !== undefined ? { pool, endpoint } : { breaker: this.#breaker };
    const lost = new LostAnswer(this.#settings, this.#throttle, target, this.#ticket, elapsed, error, call.attempt);
    if (call.lostAnswers === undefined) call.lostAnswers = [lost];
    else call.lostAnswers.push(lost);
  }

  #outcome(status: number, error: unknown): void {
    if (!this.#open) return;
    this.#open = false;
    const settings = this.#settings;
    const elapsed = settings.clock.now() - this.#startedAt;
    // An abandoned attempt, or one never sent (a header undici refused), says nothing about the dependency.
    const call = this.#call;
    const cancelled =
      error !== undefined && (isLifelineError(error, 'ABORTED') || isLifelineError(error, 'INVALID_HEADER') || error === call.abortReason);
    // A keyed attempt whose connection closed with no answer: held until the call shows what it was.
    if (!cancelled && call.keyed && mayBeLostAnswer(error)) return this.#hold(error, elapsed);
    if (!cancelled) this.#throttle?.record(error === undefined && status !== 429 && status !== 502 && status !== 503 && status !== 504);
    const failure = error ?? (status < 500 ? undefined : withoutStack(() => new HttpStatusError(status, {}, '', { service: call.service })));
    const ticket = this.#ticket;
    const endpoint = this.#endpoint;
    const pool = settings.pool;
    if (pool !== undefined && endpoint !== undefined) {
      if (cancelled) pool.cancelled(endpoint, ticket);
      else if (failure === undefined) {
        pool.succeeded(endpoint, ticket, elapsed);
        // Its probes closed the breaker: the outage is over, and the throttle forgets it.
        if (this.#probe && !endpoint.probing && !endpoint.failing) this.#throttle!.reset();
      } else {
        const wasEjected = endpoint.ejected;
        pool.failed(endpoint, ticket, elapsed, failure);
        if (!wasEjected && endpoint.ejected) settings.telemetry.ejected(call.trace.span, endpoint.origin);
      }
      return;
    }
    const breaker = this.#breaker;
    if (breaker === undefined) return;
    if (cancelled) breaker.cancel(ticket);
    else if (failure === undefined) {
      breaker.success(ticket, elapsed);
      if (this.#probe && breaker.state === 'closed') this.#throttle!.reset();
    } else breaker.failure(ticket, elapsed, failure);
  }
}

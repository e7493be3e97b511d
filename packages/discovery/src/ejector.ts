import { EventEmitter, type Event, type Logger } from '@lifeline/core';
import { ejectChannel, returnChannel } from './diagnostics.ts';
import type { Endpoint } from './endpoint.ts';
import { hostPort } from './instance.ts';
import type { EjectionEvent } from './pool-types.ts';

/**
 * Outlier ejection for one pool: ejects endpoints whose breaker is open, up to the cap
 * (`maxEjectionRatio` of the endpoints, never the last one); brings them back when their
 * breaker lets calls through again; keeps one timer for the whole pool, at the earliest end
 * of a break, so that breaker goes half-open without waiting for traffic; and tells
 * `onEjection` listeners, the `lifeline:discovery:eject` / `return` channels and the log.
 *
 * @internal
 */
export class Ejector {
  /** Endpoints ejected now. */
  count = 0;
  readonly #service: string;
  readonly #maxRatio: number;
  readonly #logger: Logger | undefined;
  /** The pool's endpoints now (the list is replaced on each resolver update). */
  readonly #endpoints: () => readonly Endpoint[];
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  readonly #onEjection = new EventEmitter<EjectionEvent>();
  readonly onEjection: Event<EjectionEvent> = this.#onEjection.event;

  constructor(service: string, maxRatio: number, logger: Logger | undefined, endpoints: () => readonly Endpoint[]) {
    this.#service = service;
    this.#maxRatio = maxRatio;
    this.#logger = logger;
    this.#endpoints = endpoints;
  }

  /**
   * A failing endpoint's breaker lets calls through again (`reason`: `break-elapsed`,
   * `health-check`, `reset`, `disabled`). One that passed a health check is logged even when
   * the cap kept it in rotation: its break was cut short, which the log should say.
   */
  returned(endpoint: Endpoint, reason: string, breaker: string): void {
    const checked = reason === 'health-check';
    if (!endpoint.ejected && !checked) return;
    this.#logger?.info(
      { service: this.#service, endpoint: endpoint.id, breaker, reason },
      checked ? 'discovery: endpoint passed its health check, back on probation' : breaker === 'half-open' ? 'discovery: endpoint back on probation' : 'discovery: endpoint returned',
    );
    if (!endpoint.ejected) return;
    endpoint.ejected = false;
    this.count--;
    this.#emit(endpoint, false, reason, undefined);
  }

  /** The resolver no longer lists `endpoint`. */
  removed(endpoint: Endpoint): void {
    if (!endpoint.ejected) return;
    endpoint.ejected = false;
    this.count--;
    this.#emit(endpoint, false, 'removed', undefined);
  }

  /** Ejects failing endpoints up to the cap, or returns the excess when the cap shrank; then re-arms the timer. */
  reconcile(): void {
    const endpoints = this.#endpoints();
    const n = endpoints.length;
    const cap = Math.min(Math.floor(this.#maxRatio * n), n - 1);
    let ejected = 0;
    for (const e of endpoints) if (e.ejected) ejected++;
    for (const e of endpoints) {
      if (ejected <= cap) break;
      if (e.ejected) {
        e.ejected = false;
        ejected--;
        this.#emit(e, false, 'ejection-cap', undefined);
      }
    }
    for (const e of endpoints) {
      if (ejected >= cap) break;
      if (e.failing && !e.ejected) {
        e.ejected = true;
        e.ejections++;
        ejected++;
        const duration = e.breaker.snapshot().halfOpenInMs;
        this.#logger?.warn(
          { service: this.#service, endpoint: e.id, ejections: e.ejections, durationMs: duration, reason: e.openedBecause },
          'discovery: endpoint ejected',
        );
        this.#emit(e, true, e.openedBecause, duration);
      }
    }
    this.count = ejected;
    this.#schedule();
  }

  /** Lets breakers whose break is over move to half-open (their state change event does the rest). */
  wake(): void {
    let moved = false;
    for (const e of this.#endpoints()) {
      if (e.failing && !e.forced && e.breaker.state !== 'open') moved = true;
    }
    if (!moved) this.#schedule();
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
  }

  #schedule(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#closed) return;
    let soonest = Infinity;
    for (const e of this.#endpoints()) {
      if (!e.failing || e.forced) continue;
      const wait = e.breaker.snapshot().halfOpenInMs;
      if (wait !== undefined && wait < soonest) soonest = wait;
    }
    if (soonest === Infinity) return;
    this.#timer = setTimeout(() => this.wake(), Math.max(1, Math.ceil(soonest)));
    this.#timer.unref();
  }

  /** Tells `onEjection` listeners and the diagnostics channels, when anyone listens. */
  #emit(endpoint: Endpoint, ejected: boolean, reason: string, durationMs: number | undefined): void {
    const channel = ejected ? ejectChannel : returnChannel;
    const listeners = this.#onEjection.hasListeners;
    if (!listeners && !channel.hasSubscribers) return;
    const address = hostPort(endpoint.instance.host, endpoint.instance.port);
    if (channel.hasSubscribers) channel.publish({ service: this.#service, endpoint: address, reason });
    if (!listeners) return;
    this.#onEjection.emit({ service: this.#service, endpoint: endpoint.id, address, ejected, reason, ejections: endpoint.ejections, durationMs });
  }
}

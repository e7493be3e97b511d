import { EventEmitter, LifelineError, withoutStack, type Event, type ExecuteOptions, type PolicyContext } from '@lifeline/core';
import type { Breaker, BreakerSnapshot, BreakerState, StateChange, TransitionReason } from './breaker.ts';
import { CircuitOpenError } from './circuit-open-error.ts';
import { stateChannel } from './diagnostics.ts';

/**
 * What the adapter needs of an opossum `CircuitBreaker` (opossum 10): its state getters, its
 * `call()`, its events and its rolling stats. Structural, so that Lifeline's types do not
 * depend on opossum's: a breaker made by `new CircuitBreaker(action, options)` fits, typed by
 * `@types/opossum` or not.
 */
export interface OpossumCircuit {
  readonly name: string;
  readonly enabled: boolean;
  readonly closed: boolean;
  readonly opened: boolean;
  readonly halfOpen: boolean;
  readonly pendingClose: boolean;
  readonly isShutdown: boolean;
  readonly stats: { readonly successes: number; readonly failures: number };
  call(context: unknown, ...args: never[]): Promise<unknown>;
  on(event: 'open' | 'close' | 'halfOpen' | 'shutdown' | 'success' | 'failure', listener: () => void): unknown;
  removeListener(event: 'open' | 'close' | 'halfOpen' | 'shutdown' | 'success' | 'failure', listener: () => void): unknown;
}

/** What opossum has at run time and `@types/opossum` does not declare. */
interface OpossumInternals {
  action: (...args: unknown[]) => unknown;
  options: { resetTimeout?: number; cache?: unknown; coalesce?: unknown; capacity?: number };
  toJSON?: () => { state?: { lastTimerAt?: unknown } };
}

type Deferred = PromiseWithResolvers<void>;

const noop = (): void => undefined;

/**
 * An existing opossum breaker behind Lifeline's {@link Breaker} seam, so a client (or any
 * code written against `Breaker`) runs its calls through opossum's state machine: its
 * `errorThresholdPercentage` over its rolling window, `volumeThreshold`, `resetTimeout`,
 * single half-open trial, `errorFilter`, `capacity` and `timeout` — and its events and stats,
 * so the dashboards already built on them (opossum-prometheus, Hystrix streams) keep working.
 *
 * How: opossum runs only the action it was built with, through `call()`, and has no
 * admit-then-report API. `acquire()` therefore calls `call()` with, for that one synchronous
 * call, an action that returns a promise the adapter settles later: opossum decides
 * admission exactly as for its own `fire()` (and invokes the action only when it admits),
 * then counts the outcome when `success()` / `failure()` settles that promise. The breaker's
 * own action is put back before `acquire()` returns and keeps serving its own `fire()`.
 *
 * Mapping: opossum's rejections (open, half-open with its trial taken, `capacity` reached,
 * shut down) throw `CIRCUIT_OPEN` with no stack, `retryAfterMs` set while open; its
 * `open` / `halfOpen` / `close` / `shutdown` events become `onStateChange` transitions
 * (shut down reads as `forced-open`, disabled as `disabled`). Opossum does not say why it
 * moved, so the reason is read from the states: closed → open is `failure-ratio` (its one
 * trigger; an operator's `open()` or a failed `healthCheck` read the same), half-open → open
 * `probe-failed`, half-open → closed `probes-succeeded`, open → closed `reset`.
 *
 * Limits, from opossum's model: it has no neutral outcome, so `cancel()` reports a failure
 * with an `ABORTED` error (its `errorFilter` may excuse it, which opossum counts as a
 * success); `durationMs` is ignored (opossum times calls itself, and its `timeout` — 10 s by
 * default — still counts a longer attempt as a failure: set `timeout: false` to leave timing
 * to Lifeline); a `fallback` on the breaker would run for Lifeline's calls too, so give the
 * adapter a breaker without one. `cache` and `coalesce` must be off (refused at construction):
 * a cached answer would be handed to an unrelated call.
 *
 * @example
 * const circuit = new CircuitBreaker(chargeCard, { errorThresholdPercentage: 50, resetTimeout: 10_000, timeout: false });
 * const breaker = fromOpossum(circuit);
 * const client = createClient({ baseUrl: 'http://payment:8080', breaker });
 */
export class OpossumBreaker implements Breaker {
  readonly #circuit: OpossumCircuit;
  readonly #internals: OpossumInternals;
  /** Calls admitted and not yet reported, by ticket. */
  readonly #pending = new Map<number, Deferred>();
  #nextTicket = 0;
  /** The state at the last transition, for `from`. */
  #state: BreakerState;
  /** `Date.now()` when the circuit last opened (opossum's own clock), for `retryAfterMs`. */
  #openedAt: number;
  #consecutive = 0;
  readonly #listeners: [Parameters<OpossumCircuit['on']>[0], () => void][];
  readonly #onStateChange = new EventEmitter<StateChange>();
  /** Fires on every transition of the opossum breaker (also published on diagnostics channel `lifeline:breaker:state`). */
  readonly onStateChange: Event<StateChange> = this.#onStateChange.event;

  constructor(circuit: OpossumCircuit) {
    const internals = circuit as unknown as Partial<OpossumInternals> | null | undefined;
    if (
      typeof circuit !== 'object' ||
      circuit === null ||
      typeof circuit.call !== 'function' ||
      typeof circuit.on !== 'function' ||
      typeof internals?.action !== 'function' ||
      typeof internals.options !== 'object'
    ) {
      throw new TypeError(`lifeline: fromOpossum(circuit) needs an opossum CircuitBreaker, got ${circuit === null ? 'null' : typeof circuit}`);
    }
    for (const option of ['cache', 'coalesce'] as const) {
      const value = internals.options[option];
      if (value !== undefined && value !== false) {
        throw new TypeError(
          `lifeline: fromOpossum: the opossum breaker's option \`${option}\` must be off (false or unset): one breaker serves many different calls, and a cached answer would go to the wrong one; got ${JSON.stringify(value)}`,
        );
      }
    }
    this.#circuit = circuit;
    this.#internals = internals as OpossumInternals;
    this.#state = this.#read();
    const lastTimerAt = this.#state === 'open' ? this.#internals.toJSON?.().state?.lastTimerAt : undefined;
    this.#openedAt = typeof lastTimerAt === 'number' ? lastTimerAt : Date.now();
    this.#listeners = [
      ['open', () => this.#moved('open')],
      ['halfOpen', () => this.#moved('half-open')],
      ['close', () => this.#moved('closed')],
      ['shutdown', () => this.#moved('forced-open')],
      ['success', () => (this.#consecutive = 0)],
      ['failure', () => this.#consecutive++],
    ];
    for (const [event, listener] of this.#listeners) circuit.on(event, listener);
  }

  get name(): string {
    return this.#circuit.name;
  }

  get state(): BreakerState {
    return this.#read();
  }

  /** True when opossum would admit a call now: closed, disabled, or half-open with its trial not yet taken. */
  get allowsCalls(): boolean {
    const circuit = this.#circuit;
    return !circuit.isShutdown && (!circuit.enabled || circuit.closed || circuit.pendingClose);
  }

  /** Admits a call through opossum's `call()` or throws `CIRCUIT_OPEN`. Returns the ticket to report with. */
  acquire(): number {
    const circuit = this.#circuit;
    const internals = this.#internals;
    let deferred: Deferred | undefined;
    const own = internals.action;
    internals.action = () => {
      deferred = Promise.withResolvers<void>();
      return deferred.promise;
    };
    let call: Promise<unknown>;
    try {
      call = circuit.call(undefined);
    } finally {
      internals.action = own;
    }
    // The outcome is what success()/failure() report; opossum's promise (rejected on a
    // failure, a timeout or a refusal) is only its own bookkeeping.
    call.then(noop, noop);
    if (deferred === undefined) throw this.#refused();
    const ticket = this.#nextTicket++;
    this.#pending.set(ticket, deferred);
    return ticket;
  }

  /** Reports a success to opossum (which times the call itself: `durationMs` is not used). */
  success(ticket: number, _durationMs?: number): void {
    this.#take(ticket)?.resolve();
  }

  /** Reports a failure to opossum; its `errorFilter` decides whether it counts. */
  failure(ticket: number, _durationMs?: number, error?: unknown): void {
    this.#take(ticket)?.reject(error ?? withoutStack(() => new Error(`${this.name}: the call failed`)));
  }

  /** The caller gave up: opossum has no neutral outcome, so this is a failure with an `ABORTED` error. */
  cancel(ticket: number): void {
    const deferred = this.#take(ticket);
    if (deferred === undefined) return;
    deferred.reject(withoutStack(() => new LifelineError('ABORTED', `${this.name}: the call was abandoned before its outcome was known`, { retryable: false })));
  }

  /**
   * Runs `fn` through the opossum breaker.
   *
   * @example await breaker.execute(({ signal }) => fetch(url, { signal }), { signal });
   */
  async execute<T>(fn: (context: PolicyContext) => PromiseLike<T> | T, options: ExecuteOptions = {}): Promise<T> {
    const ticket = this.acquire();
    let result: T;
    try {
      result = await fn({ attempt: 1, signal: options.signal, deadline: options.deadline });
    } catch (error) {
      this.failure(ticket, 0, error);
      throw error;
    }
    this.success(ticket);
    return result;
  }

  /**
   * The opossum breaker's state in Lifeline's shape: `calls` and `failures` are its rolling
   * window's outcomes (timeouts and capacity rejections are failures there), `breakDuration`
   * its `resetTimeout`, one probe at most.
   */
  snapshot(): BreakerSnapshot {
    const circuit = this.#circuit;
    const state = this.#read();
    const { successes, failures } = circuit.stats;
    const breakDuration = this.#internals.options.resetTimeout ?? 30_000;
    return {
      name: circuit.name,
      state,
      calls: successes + failures,
      failures,
      consecutiveFailures: this.#consecutive,
      halfOpenInMs: state === 'open' ? Math.max(0, Math.ceil(this.#openedAt + breakDuration - Date.now())) : undefined,
      breakDuration,
      probesInFlight: circuit.halfOpen && !circuit.pendingClose ? 1 : 0,
      probeSuccesses: 0,
    };
  }

  /** Stops listening to the opossum breaker (calls still admitted can be reported). */
  dispose(): void {
    for (const [event, listener] of this.#listeners) this.#circuit.removeListener(event, listener);
  }

  #read(): BreakerState {
    const circuit = this.#circuit;
    if (circuit.isShutdown) return 'forced-open';
    if (!circuit.enabled) return 'disabled';
    if (circuit.opened) return 'open';
    return circuit.halfOpen ? 'half-open' : 'closed';
  }

  #take(ticket: number): Deferred | undefined {
    const deferred = this.#pending.get(ticket);
    if (deferred !== undefined) this.#pending.delete(ticket);
    return deferred;
  }

  #moved(to: BreakerState): void {
    const from = this.#state;
    if (from === to) return;
    this.#state = to;
    if (to === 'open') this.#openedAt = Date.now();
    if (this.#onStateChange.hasListeners || stateChannel.hasSubscribers) {
      const change: StateChange = { name: this.name, from, to, reason: reasonFor(from, to), snapshot: this.snapshot() };
      this.#onStateChange.emit(change);
      if (stateChannel.hasSubscribers) stateChannel.publish(change);
    }
  }

  /** Why opossum turned the call away, as `CIRCUIT_OPEN` (no stack: an expected outcome). */
  #refused(): CircuitOpenError {
    const circuit = this.#circuit;
    const name = circuit.name;
    let message: string;
    let retryAfterMs: number | undefined;
    if (circuit.isShutdown) message = `${name}: circuit shut down`;
    else if (circuit.opened) {
      message = `${name}: circuit open`;
      retryAfterMs = Math.max(0, Math.ceil(this.#openedAt + (this.#internals.options.resetTimeout ?? 30_000) - Date.now()));
    } else if (circuit.halfOpen) message = `${name}: circuit half-open, its trial call in flight`;
    else message = `${name}: at capacity (${this.#internals.options.capacity} calls in flight)`;
    return withoutStack(() => new CircuitOpenError(name, message, retryAfterMs));
  }
}

function reasonFor(from: BreakerState, to: BreakerState): TransitionReason {
  switch (to) {
    case 'open':
      return from === 'half-open' ? 'probe-failed' : 'failure-ratio';
    case 'half-open':
      return 'break-elapsed';
    case 'closed':
      return from === 'half-open' ? 'probes-succeeded' : 'reset';
    default:
      return 'forced-open';
  }
}

/**
 * Runs an existing opossum breaker behind Lifeline's {@link Breaker} seam: give the result to
 * a client as its `breaker`, or call `execute(fn)` on it. See {@link OpossumBreaker}.
 *
 * @example
 * import CircuitBreaker from 'opossum';
 * import { fromOpossum } from '@lifeline/breaker/opossum';
 *
 * const circuit = new CircuitBreaker(chargeCard, { errorThresholdPercentage: 50, resetTimeout: 10_000, timeout: false });
 * const breaker = fromOpossum(circuit); // the same breaker, its dashboards included
 * await breaker.execute(() => payment.post('/charges', { json }));
 */
export function fromOpossum(circuit: OpossumCircuit): OpossumBreaker {
  return new OpossumBreaker(circuit);
}

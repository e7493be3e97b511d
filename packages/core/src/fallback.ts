import { ErrorCode } from './codes.ts';
import { isLifelineError } from './errors.ts';
import { EventEmitter, type Event } from './event.ts';
import type { ExecuteOptions, Policy, PolicyContext } from './policy.ts';
import { checkOneOf, checkOptionNames, optionNames } from './validate.ts';

export interface FallbackOptions {
  /**
   * Which failures get the fallback: a predicate, or a list of Lifeline error codes
   * (`['CIRCUIT_OPEN', 'BULKHEAD_REJECTED']`). Default: every failure. Never the caller's
   * own abort: nobody is waiting for the answer.
   */
  when?: ((error: unknown) => boolean) | readonly ErrorCode[];
}

/** The `onFallback` event: the failure that was replaced by the fallback. */
export interface FallbackEvent {
  error: unknown;
}

const FALLBACK_OPTIONS = optionNames<FallbackOptions>({ when: true });
const CODES = Object.values(ErrorCode);
const always = (): boolean => true;

/** The fallback: a value, or a function of the error that gives one. */
export type FallbackValue<F> = F | ((error: unknown) => F | PromiseLike<F>);

/**
 * Answers with a substitute when the function fails: the fallback value, or what the
 * fallback function returns for the error (it may be async; if it throws, that error is
 * the outcome). A failure that `when` does not match, and the caller's own abort, are
 * rethrown untouched. Put it outermost in `wrap()`, so it sees the failure that is final
 * after retries, breaker and bulkhead.
 *
 * @example
 * const user = await fallback((error) => cache.get(id) ?? Promise.reject(error), { when: ['CIRCUIT_OPEN'] })
 *   .execute(({ signal }) => users.get(`/users/${id}`, { signal }));
 */
export class FallbackPolicy<F> implements Policy<F> {
  readonly #value: FallbackValue<F>;
  readonly #when: (error: unknown) => boolean;
  readonly #onFallback = new EventEmitter<FallbackEvent>();
  /** Fires when a failure is replaced by the fallback, before the fallback function runs. */
  readonly onFallback: Event<FallbackEvent> = this.#onFallback.event;

  constructor(value: FallbackValue<F>, options: FallbackOptions = {}) {
    checkOptionNames('fallback', options, FALLBACK_OPTIONS);
    this.#value = value;
    this.#when = matcher(options.when);
  }

  async execute<T>(fn: (context: PolicyContext) => PromiseLike<T> | T, options: ExecuteOptions = {}): Promise<T | F> {
    try {
      return await fn({ attempt: 1, signal: options.signal, deadline: options.deadline });
    } catch (error) {
      if (options.signal?.aborted === true || !this.#when(error)) throw error;
      if (this.#onFallback.hasListeners) this.#onFallback.emit({ error });
      const value = this.#value;
      return typeof value === 'function' ? await (value as (error: unknown) => F | PromiseLike<F>)(error) : value;
    }
  }
}

/**
 * A policy that answers with `value` (or `value(error)`) when the function fails. See
 * {@link FallbackPolicy}.
 *
 * @example
 * const price = await wrap(fallback({ amount: null, stale: true }), breaker, retry)
 *   .execute(() => pricing.quote(sku));
 */
export function fallback<F>(value: FallbackValue<F>, options?: FallbackOptions): FallbackPolicy<F> {
  return new FallbackPolicy(value, options);
}

function matcher(when: unknown): (error: unknown) => boolean {
  if (when === undefined) return always;
  if (typeof when === 'function') return when as (error: unknown) => boolean;
  if (!Array.isArray(when) || when.length === 0) {
    throw new TypeError(
      `lifeline: option \`fallback.when\` must be a function (error) => boolean or a non-empty list of error codes, got ${when === null ? 'null' : Array.isArray(when) ? 'an empty list' : JSON.stringify(when) ?? typeof when}`,
    );
  }
  const codes = when.map((code: unknown, i) => checkOneOf(`fallback.when[${i}]`, code, CODES));
  return (error) => isLifelineError(error) && codes.includes(error.code);
}

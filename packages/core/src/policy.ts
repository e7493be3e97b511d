import type { Deadline } from './deadline.ts';

/**
 * How much a request matters when there is not room for all: under overload, `sheddable` work
 * is turned away first and `critical` work last. Carried on the wire as `x-request-priority`.
 */
export type Priority = 'critical' | 'normal' | 'sheddable';

/** What a policy passes to the function it runs, and what callers pass to `execute`. */
export interface ExecuteOptions {
  /** Cancels the call. Policies stop waiting and stop retrying when it aborts. */
  readonly signal?: AbortSignal | undefined;
  /** The call must be done by then; policies never wait past it. */
  readonly deadline?: Deadline | undefined;
  /** Who goes first when a limiter must choose (a bulkhead's queue). Default `normal`. */
  readonly priority?: Priority | undefined;
}

/** The context a policy hands to the function it runs. */
export interface PolicyContext extends ExecuteOptions {
  /** 1 for the first attempt, 2 for the first retry, and so on. */
  readonly attempt: number;
}

/**
 * The contract every Lifeline policy implements: run `fn` under the policy, passing the
 * cancellation signal and deadline through so that wrapped policies compose (see `wrap()`).
 *
 * `R` is what the policy may resolve with instead of `fn`'s result: `never` for all but a
 * fallback, whose value it is.
 *
 * @example
 * const result = await retry.execute(({ attempt, deadline }) => callOnce(attempt, deadline), {
 *   deadline: Deadline.after(5_000),
 * });
 */
export interface Policy<R = never> {
  /**
   * The most times one `execute` may run `fn`: set by policies that retry, absent for those
   * that run it once. `wrap()` takes the `attempt` it hands to the function from the
   * innermost policy whose `maxAttempts` is above 1.
   */
  readonly maxAttempts?: number | undefined;
  execute<T>(fn: (context: PolicyContext) => PromiseLike<T> | T, options?: ExecuteOptions): Promise<T | R>;
}

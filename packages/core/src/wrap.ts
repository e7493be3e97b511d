import type { Deadline } from './deadline.ts';
import type { FallbackPolicy } from './fallback.ts';
import type { ExecuteOptions, Policy, PolicyContext } from './policy.ts';

/** What a policy may resolve with instead of the function's result: a fallback's value, never for the rest. */
export type FallbackOf<P> =
  P extends FallbackPolicy<infer F> ? F : P extends WrappedPolicy<infer Inner> ? FallbackOf<Inner[number]> : never;

/**
 * Policies composed into one, outermost first: `execute` runs the function inside the last
 * policy, inside the one before it, and so on. Each policy hands the next the signal and
 * deadline it gives its own function, so a timeout's shorter deadline and its signal reach
 * everything inside it, and the caller's abort reaches all of them.
 *
 * The function's `attempt` is the innermost retry's (the innermost policy whose
 * `maxAttempts` is above 1), 1 when there is none: a breaker or a bulkhead inside a retry
 * does not reset it.
 *
 * @example
 * const rows = await wrap(bulkhead, breaker, retry, timeout(2_000))
 *   .execute(({ signal, attempt }) => db.query(sql, { signal, attempt }));
 */
export class WrappedPolicy<P extends readonly Policy<unknown>[]> implements Policy<FallbackOf<P[number]>> {
  /** The policies, outermost first. */
  readonly policies: P;
  /** The most times one `execute` may run the function: the product of the policies' own. */
  readonly maxAttempts: number;
  readonly #retries: readonly boolean[];

  constructor(policies: P) {
    if (policies.length === 0) {
      throw new TypeError('lifeline: wrap() needs at least one policy, got none');
    }
    policies.forEach((policy, i) => {
      if (typeof (policy as { execute?: unknown } | null)?.execute !== 'function') {
        throw new TypeError(
          `lifeline: wrap() argument ${i + 1} must be a policy (an object with execute(fn, options)), got ${show(policy)}`,
        );
      }
    });
    this.policies = policies;
    this.#retries = policies.map((policy) => (policy.maxAttempts ?? 1) > 1);
    this.maxAttempts = policies.reduce((product, policy) => product * (policy.maxAttempts ?? 1), 1);
  }

  execute<T>(fn: (context: PolicyContext) => PromiseLike<T> | T, options: ExecuteOptions = {}): Promise<T | FallbackOf<P[number]>> {
    return this.#run(0, fn, options.signal, options.deadline, 1) as Promise<T | FallbackOf<P[number]>>;
  }

  #run<T>(
    index: number,
    fn: (context: PolicyContext) => PromiseLike<T> | T,
    signal: AbortSignal | undefined,
    deadline: Deadline | undefined,
    attempt: number,
  ): Promise<unknown> {
    const policy = this.policies[index]!;
    const retries = this.#retries[index]!;
    const innermost = index === this.policies.length - 1;
    return policy.execute(
      (context) => {
        // A policy that leaves the signal or deadline out keeps the caller's.
        const inner: PolicyContext = {
          attempt: retries ? context.attempt : attempt,
          signal: context.signal ?? signal,
          deadline: context.deadline ?? deadline,
        };
        return innermost ? fn(inner) : this.#run(index + 1, fn, inner.signal, inner.deadline, inner.attempt);
      },
      { signal, deadline },
    );
  }
}

/**
 * Composes policies into one, outermost first; see {@link WrappedPolicy}. Order matters:
 * a fallback outermost answers for the final failure; a bulkhead outside the retry holds
 * one slot for the whole call; a timeout inside the retry bounds each attempt, outside it
 * the whole call.
 *
 * @example
 * const policy = wrap(fallback([]), bulkhead, breaker, retry, timeout(2_000));
 * const rows = await policy.execute(({ signal }) => db.query(sql, { signal }), { deadline: Deadline.after(5_000) });
 */
export function wrap<const P extends readonly Policy<unknown>[]>(...policies: P): WrappedPolicy<P> {
  return new WrappedPolicy(policies);
}

function show(value: unknown): string {
  switch (typeof value) {
    case 'function':
      return 'a function (pass the policy, not a function to run)';
    case 'object':
      return value === null ? 'null' : 'an object with no execute method';
    case 'string':
      return JSON.stringify(value);
    case 'symbol':
      return value.toString();
    default:
      return String(value);
  }
}

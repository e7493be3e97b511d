import type { Endpoint } from './endpoint.ts';

/**
 * What a {@link Balancer} may ask about the attempt it routes. The pool hands the same
 * object to every pick: a balancer must not keep it.
 */
export interface PickContext {
  /**
   * True when `endpoint` may take this attempt: the call has not already failed on it, and
   * a probing endpoint (half-open breaker) still has a free probe slot.
   */
  accepts(endpoint: Endpoint): boolean;
  /**
   * Latency samples taken before this time (the pool's clock, ms, as
   * {@link Endpoint.sampledAt}) are stale: older than `ewmaDecayMs`, they say little. Kept
   * by the pool from the time of its latest attempt outcome, so reading it costs no clock.
   */
  readonly staleBefore: number;
}

/**
 * Chooses the endpoint an attempt goes to. A {@link ServicePool} calls it with the
 * endpoints that can take traffic now — healthy ones, and probing ones — and only when
 * none of those will do, with the failing ones as a last resort: a balancer never has to
 * weigh health itself, only load.
 *
 * Two implementations: {@link P2CBalancer} (the default: power of two choices, least
 * loaded by peak-EWMA latency × requests in flight) and {@link RoundRobinBalancer}. An
 * object given to `new Discovery({ balancer })` is shared by every service's pool.
 *
 * `pick()` runs on every attempt: keep it O(1) and allocation-free.
 *
 * @example
 * // The first endpoint that will take the attempt (a deliberately naive strategy).
 * const first: Balancer = {
 *   name: 'first',
 *   pick(candidates, context) {
 *     for (const endpoint of candidates) if (context.accepts(endpoint)) return endpoint;
 *     return undefined;
 *   },
 * };
 * const discovery = new Discovery({ resolver: StaticResolver.fromEnv(), balancer: first });
 */
export interface Balancer {
  /** Names the strategy in snapshots. */
  readonly name: string;
  /** One of `candidates` that `context.accepts`, or undefined when none does. */
  pick(candidates: readonly Endpoint[], context: PickContext): Endpoint | undefined;
}

/** The built-in balancers by name. */
export type BalancerKind = 'p2c' | 'round-robin';

import { checkInteger, checkObject, checkOptionNames, optionNames } from '@lifeline/core';
import type { Balancer, PickContext } from './balancer.ts';
import type { Endpoint } from './endpoint.ts';

export interface P2CBalancerOptions {
  /** Seeds the balancer's random draws, for reproducible runs (a positive 31-bit integer). Default: random. */
  seed?: number;
}

const P2C_OPTIONS = optionNames<P2CBalancerOptions>({ seed: true });

/**
 * The cost of an endpoint with requests in flight and no usable latency sample: above any
 * measured cost, so that an unmeasured endpoint takes one request at a time until its first
 * answer (Finagle's PeakEwma penalty; Envoy's Peak EWMA does the same).
 */
const UNMEASURED = 1e12;

/**
 * Power of two choices, least loaded: draws two endpoints at random and sends the attempt
 * to the one with the lower cost, `peak-EWMA latency × (requests in flight + 1)` — the
 * expected wait there (Finagle's P2C PeakEwma, Linkerd, Envoy's Peak EWMA). A slow
 * endpoint gets clearly less traffic; a failing one, whose failures count as a latency
 * penalty ({@link Endpoint.penalize}), loses against a healthy one even when it has
 * nothing in flight because it fails fast. An endpoint not measured yet (or measured more
 * than `ewmaDecayMs` ago) costs nothing while idle, so it is tried, and one request at a
 * time until it answers.
 *
 * O(1) and allocation-free: two draws from a 31-bit xorshift; only when neither draw will
 * take the attempt (the call already failed on both, or they are probing with no free
 * slot) does it scan for the first one that will.
 *
 * @example
 * // Reproducible draws, e.g. in a test:
 * const discovery = new Discovery({ resolver, balancer: new P2CBalancer({ seed: 42 }) });
 */
export class P2CBalancer implements Balancer {
  readonly name = 'p2c';
  #seed: number;

  constructor(options: P2CBalancerOptions = {}) {
    checkObject('options', options);
    checkOptionNames('', options, P2C_OPTIONS);
    const seed = options.seed === undefined ? Math.floor(Math.random() * 0x7fffffff) : checkInteger('seed', options.seed, 1, 0x7fffffff);
    this.#seed = seed | 1;
  }

  pick(candidates: readonly Endpoint[], context: PickContext): Endpoint | undefined {
    const n = candidates.length;
    if (n <= 1) {
      const only = candidates[0];
      return only !== undefined && context.accepts(only) ? only : undefined;
    }
    const first = this.#random() % n;
    let second = this.#random() % (n - 1);
    if (second >= first) second++;
    const a = candidates[first]!;
    const b = candidates[second]!;
    const useA = context.accepts(a);
    const useB = context.accepts(b);
    if (useA && useB) return cheaper(a, b, context);
    if (useA) return a;
    if (useB) return b;
    for (let k = 1; k < n; k++) {
      let i = first + k;
      if (i >= n) i -= n;
      const e = candidates[i]!;
      if (context.accepts(e)) return e;
    }
    return undefined;
  }

  /**
   * A 31-bit xorshift draw. Math.random() returns a double that V8 boxes when pick() is not
   * inlined into its caller — about 30 bytes of garbage per pick; integer state allocates nothing.
   */
  #random(): number {
    let x = this.#seed;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#seed = x;
    return x >>> 1;
  }
}

/** The endpoint with the lower cost; `a` on a tie (it was drawn at random). */
function cheaper(a: Endpoint, b: Endpoint, context: PickContext): Endpoint {
  if (a.sampledAt === 0 && b.sampledAt === 0) return b.inFlight < a.inFlight ? b : a;
  const staleBefore = context.staleBefore;
  return cost(b, staleBefore) < cost(a, staleBefore) ? b : a;
}

/** Expected wait at `e`: its latency × (requests in flight + 1). */
function cost(e: Endpoint, staleBefore: number): number {
  // A sample older than the decay says little: the endpoint counts as unmeasured, and is tried again.
  if (e.sampledAt === 0 || e.sampledAt < staleBefore || e.ewma === 0) return e.inFlight === 0 ? 0 : UNMEASURED + e.inFlight;
  return e.ewma * (e.inFlight + 1);
}

import type { Balancer, PickContext } from './balancer.ts';
import type { Endpoint } from './endpoint.ts';

/**
 * Each endpoint in turn, skipping those that will not take the attempt (the call already
 * failed on it, or it is probing with no free slot). It ignores load and latency: use it
 * when every instance is alike and an even spread is what matters (and to compare P2C
 * against). O(1) and allocation-free while most endpoints take traffic.
 *
 * @example
 * const discovery = new Discovery({ resolver, balancer: new RoundRobinBalancer() }); // or balancer: 'round-robin'
 */
export class RoundRobinBalancer implements Balancer {
  readonly name = 'round-robin';
  #cursor = 0;

  pick(candidates: readonly Endpoint[], context: PickContext): Endpoint | undefined {
    const n = candidates.length;
    let i = this.#cursor;
    if (i >= n) i = 0; // the list shrank
    for (let k = 0; k < n; k++) {
      const e = candidates[i]!;
      i = i + 1 >= n ? 0 : i + 1;
      if (context.accepts(e)) {
        this.#cursor = i;
        return e;
      }
    }
    return undefined;
  }
}

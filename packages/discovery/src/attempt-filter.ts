import type { PickContext } from './balancer.ts';
import { Endpoint } from './endpoint.ts';

/** Healthy endpoints, and probing ones with a free probe slot. */
export const AVAILABLE = 0;
/** Failing endpoints the ejection cap kept in rotation. */
export const NOT_EJECTED = 1;
/** Every failing endpoint, ejected ones included (panic mode). */
export const ANY_FAILING = 2;

/**
 * The {@link PickContext} a pool hands its balancer: which endpoints the attempt being
 * routed may go to. One per pool, reset for every pick, so a pick allocates nothing.
 *
 * @internal
 */
export class AttemptFilter implements PickContext {
  /** The time of the pool's latest attempt outcome − `ewmaDecayMs`: see {@link record}. */
  staleBefore = -Infinity;
  readonly #ewmaDecayMs: number;
  /** The endpoint the call failed on, when it failed on one… */
  #one: Endpoint | undefined = undefined;
  /** …or the endpoints it failed on. */
  #many: ReadonlySet<Endpoint> | undefined = undefined;
  /** False once every endpoint that could take the call was avoided: the best remaining will do. */
  avoiding = true;
  tier = AVAILABLE;

  constructor(ewmaDecayMs: number) {
    this.#ewmaDecayMs = ewmaDecayMs;
  }

  /**
   * An attempt ended at `now`. The staleness threshold moves with the pool's outcomes
   * rather than a clock read per pick: on a busy pool that is current to within one
   * response; on an idle one, a sample goes stale at the next outcome instead.
   */
  record(now: number): void {
    this.staleBefore = now - this.#ewmaDecayMs;
  }

  /** Starts a pick that avoids `avoid`: one endpoint or a set of them. */
  begin(avoid: Endpoint | ReadonlySet<Endpoint> | undefined): void {
    if (avoid === undefined || avoid instanceof Endpoint) {
      this.#one = avoid;
      this.#many = undefined;
    } else {
      this.#one = undefined;
      this.#many = avoid.size === 0 ? undefined : avoid;
    }
    this.avoiding = true;
    this.tier = AVAILABLE;
  }

  /** Drops the references to the caller's endpoints. */
  end(): void {
    this.#one = undefined;
    this.#many = undefined;
  }

  accepts(endpoint: Endpoint): boolean {
    if (this.avoiding && (endpoint === this.#one || (this.#many !== undefined && this.#many.has(endpoint)))) return false;
    switch (this.tier) {
      case AVAILABLE:
        return !endpoint.probing || endpoint.breaker.allowsCalls;
      case NOT_EJECTED:
        return !endpoint.ejected;
      default:
        return true;
    }
  }
}

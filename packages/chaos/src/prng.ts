import { seededRandom } from '@lifeline/core';

/**
 * mulberry32 (Tommy Ettinger's 32-bit generator): one 32-bit state word, a few multiplies per
 * draw, and a full 2^32 period — enough for deciding which requests get a fault, and small
 * enough that a run is reproduced from its seed alone. Not for anything secret.
 *
 * @internal
 */
export class Mulberry32 {
  /** A uniform draw in [0, 1). */
  readonly next: () => number;

  constructor(seed: number) {
    this.next = seededRandom(seed);
  }

  /** A standard normal draw (Box–Muller; uses two uniform draws, the cosine branch only, so every call costs the same two). */
  normal(): number {
    const u = 1 - this.next(); // (0, 1]: log(0) is never taken
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
}

/** The 99th percentile of the standard normal distribution. */
export const Z_99 = 2.326_347_874_040_840_8;

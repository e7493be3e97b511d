/**
 * A seeded source of uniform numbers in [0, 1): mulberry32 (Tommy Ettinger's 32-bit
 * generator), one 32-bit state word and a full 2^32 period. For the `random` option of the
 * policies that draw (jittered backoff, retry spreading, adaptive throttling) in a
 * simulation or a test, so that a run is reproduced from its seed alone. Not for anything
 * secret.
 *
 * @example
 * const throttle = new AdaptiveThrottle({ random: seededRandom(7) });
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

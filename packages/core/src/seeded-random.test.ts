import { describe, expect, it } from 'vitest';
import { seededRandom } from './seeded-random.ts';

describe('seededRandom', () => {
  it('gives the same uniform draws in [0, 1) for the same seed, and other draws for another', () => {
    const draws = (seed: number): number[] => Array.from({ length: 1_000 }, seededRandom(seed));
    const first = draws(1);
    expect(draws(1)).toEqual(first);
    expect(draws(2)).not.toEqual(first);
    expect(first.every((x) => x >= 0 && x < 1)).toBe(true);
    const mean = first.reduce((a, b) => a + b, 0) / first.length;
    expect(mean).toBeGreaterThan(0.45);
    expect(mean).toBeLessThan(0.55);
  });
});

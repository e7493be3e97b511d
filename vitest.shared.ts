import { defineConfig } from 'vitest/config';

/**
 * Shared test settings. Workspace packages resolve to their TypeScript sources through the
 * `@lifeline/source` export condition, so tests never need a build first.
 */
export const shared = defineConfig({
  resolve: { conditions: ['@lifeline/source'] },
  ssr: { resolve: { conditions: ['@lifeline/source'] } },
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
  },
});

import { defineConfig } from 'vitest/config';

// Run every package's tests from the root; each package's own vitest.config.ts is a
// project here, so `pnpm vitest` in a package and `vitest` at the root behave the same.
export default defineConfig({
  test: {
    projects: ['packages/*', 'apps/*'],
  },
});

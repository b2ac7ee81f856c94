import { defineConfig } from 'vitest/config';

// One run over every package, one report; each package's vitest.config.ts builds on vitest.project.ts.
export default defineConfig({
  test: {
    projects: ['packages/*', 'infra'],
    // Most test files wait on real servers rather than compute: three at a time keep two cores busy
    // (vitest's default on a 2-core machine is one file at a time, twice as slow).
    maxWorkers: 3,
    globalSetup: ['./vitest.global-setup.ts'],
  },
});

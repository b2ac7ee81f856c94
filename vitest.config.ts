import { defineConfig } from 'vitest/config';

// One run over every package, one report; each package's vitest.config.ts builds on vitest.project.ts.
export default defineConfig({
  test: {
    projects: ['packages/*', 'infra'],
    globalSetup: ['./vitest.global-setup.ts'],
  },
});

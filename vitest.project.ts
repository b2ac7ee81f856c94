// Settings every package's test project shares (projects given as files do not inherit the root config).
import { defineProject } from 'vitest/config';

export const baseProject = defineProject({
  // Packages resolve each other's sources, so tests never run against a stale build.
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'] } },
  test: {
    include: ['test/**/*.test.ts'],
    // Real servers start in these tests; a loaded CI machine needs room.
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});

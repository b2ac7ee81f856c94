import { defineProject } from 'vitest/config';

export default defineProject({
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'] } },
  // The storage tests measure retained memory, which needs a forced collection.
  test: { include: ['test/**/*.test.ts'], execArgv: ['--expose-gc'] },
});

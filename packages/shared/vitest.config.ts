import { mergeConfig } from 'vitest/config';
import { baseProject } from '../../vitest.project.js';

// The storage tests measure retained memory, which needs a forced collection.
export default mergeConfig(baseProject, { test: { execArgv: ['--expose-gc'] } });

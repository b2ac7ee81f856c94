import { mergeConfig } from 'vitest/config';
import { baseProject } from '../../vitest.project.js';

export default mergeConfig(baseProject, {});

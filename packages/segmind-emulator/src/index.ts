/** @renderq/segmind-emulator: a Segmind v2 service that clients cannot tell from the real one. */
export { DEFAULT_API_KEY, type Emulator, type EmulatorOptions, startEmulator } from './emulator.js';
export { emulatorOptionsFrom } from './emulator-env.js';
export { MODEL_PROFILES, type ModelProfile } from './model-profiles.js';
export { DEFAULT_SETTINGS, FaultSettings, SettingsPatch } from './settings.js';
export type { EmulatorStats } from './stats.js';

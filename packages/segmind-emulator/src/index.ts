/** @renderq/segmind-emulator: a Segmind v2 service that clients cannot tell from the real one. */
export { type Emulator, type EmulatorOptions, startEmulator } from './emulator.js';
export { emulatorOptionsFrom } from './emulator-env.js';

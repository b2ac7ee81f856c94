/** `pnpm emulator`: the Segmind emulator alone, configured by EMULATOR_* variables or flags. */

import { startEmulator } from './emulator.js';
import { emulatorOptionsFrom, flagsToEnv } from './emulator-env.js';
import { FaultSettings } from './settings.js';

let options: ReturnType<typeof emulatorOptionsFrom>;
try {
  options = emulatorOptionsFrom({ ...process.env, ...flagsToEnv(process.argv.slice(2)) });
} catch (error) {
  process.stderr.write(`segmind emulator: configuration error: ${(error as Error).message}\n`);
  process.exit(1);
}

let emulator: Awaited<ReturnType<typeof startEmulator>>;
try {
  emulator = await startEmulator(options);
} catch (error) {
  process.stderr.write(`segmind emulator: could not start: ${(error as Error).message}\n`);
  process.exit(1);
}
const settings = FaultSettings.parse(emulator.configure({}));
process.stdout.write(
  `Segmind emulator listening on ${emulator.url} (x-api-key: ${emulator.apiKey}; ` +
    `latency scale ${settings.latencyScale}, ${settings.gpusPerModel} GPUs per model, ${settings.credits} credits)\n`,
);
if (emulator.kept) {
  const { file, restored, problem } = emulator.kept;
  if (problem) process.stderr.write(`segmind emulator: ${problem}\n`);
  process.stdout.write(`Segmind emulator keeps its requests in ${file} (${restored} taken over from the last run)\n`);
}

let closing = false;
const stop = () => {
  if (closing) process.exit(1);
  closing = true;
  emulator.close().then(
    () => {
      if (emulator.kept)
        process.stdout.write(`Segmind emulator stopped; its requests are kept in ${emulator.kept.file}\n`);
      process.exit(0);
    },
    (error: unknown) => {
      process.stderr.write(`segmind emulator: could not keep its requests: ${(error as Error).message}\n`);
      process.exit(1);
    },
  );
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
process.on('disconnect', stop);

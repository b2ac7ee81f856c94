/** A progress bar on stderr, redrawn in place; only made when Output.interactive (both streams are terminals). */
import cliProgress from 'cli-progress';
import type { Output } from './output.js';

export function progressBar(output: Output, format: string): cliProgress.SingleBar {
  return new cliProgress.SingleBar(
    { format, stream: output.streams.stderr, hideCursor: true, barsize: 20 },
    cliProgress.Presets.shades_classic,
  );
}

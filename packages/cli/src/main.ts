#!/usr/bin/env node
/** The `renderq` command: runs the command line and exits with its code (docs/cli.md). */
import { runCli } from './run.js';

// A reader that went away (`renderq list | head`) is not an error worth a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
    throw error;
  });
}

process.exitCode = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
});

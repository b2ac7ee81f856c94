/**
 * Runs one command line to its exit code: parse (usage errors are exit 2), run
 * the chosen action with a client for `--url`/`--api-key`, and turn any failure
 * into one line on stderr (and an `error` object on stdout with `--json`).
 * Ctrl-C while following a job stops following (exit 130); at any other time
 * it ends the process at once.
 */
import { RenderqClient } from '@renderq/client';
import { CommanderError } from 'commander';
import type { CommandContext } from './context.js';
import { InterruptedError } from './errors.js';
import { EXIT } from './exit-codes.js';
import { describeFailure } from './failure.js';
import { Output, type Streams } from './output.js';
import { buildProgram, DEFAULT_URL, type Invocation } from './program.js';

export async function runCli(argv: readonly string[], streams: Streams): Promise<number> {
  let invocation: Invocation | undefined;
  const program = buildProgram(
    (chosen) => {
      invocation = chosen;
    },
    { writeOut: (text) => streams.stdout.write(text), writeErr: (text) => streams.stderr.write(text) },
  );
  const json = argv.includes('--json');
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (error) {
    if (!(error instanceof CommanderError)) throw error;
    // --help, --version and `renderq help` end with 0; everything else commander refuses is a usage error.
    if (error.exitCode === 0) return EXIT.ok;
    if (json) {
      const message = error.message.replace(/^error: /, '');
      streams.stdout.write(`${JSON.stringify({ error: { kind: 'usage', message } }, null, 2)}\n`);
    }
    return EXIT.usage;
  }
  if (!invocation) return EXIT.usage;
  return execute(invocation, streams);
}

async function execute({ action, globals }: Invocation, streams: Streams): Promise<number> {
  const output = new Output(streams, globals.json === true);
  const baseUrl = (globals.url || DEFAULT_URL).replace(/\/+$/, '');
  const apiKey = globals.apiKey || undefined;
  const interrupt = new AbortController();
  let followingNow = 0;
  const onInterrupt = () => {
    if (followingNow > 0 && !interrupt.signal.aborted) {
      interrupt.abort(new InterruptedError('interrupted'));
      return;
    }
    streams.stderr.write('\n');
    process.exit(EXIT.interrupted);
  };
  process.on('SIGINT', onInterrupt);
  const context: CommandContext = {
    client: new RenderqClient({ baseUrl, ...(apiKey ? { apiKey } : {}) }),
    target: { baseUrl, apiKey },
    output,
    interrupt: interrupt.signal,
    following: async (follow) => {
      followingNow++;
      try {
        return await follow();
      } finally {
        followingNow--;
      }
    },
  };
  try {
    return await action(context);
  } catch (error) {
    const failure = describeFailure(error, baseUrl);
    output.error(failure.message);
    if (output.json) streams.stdout.write(`${JSON.stringify({ error: failure.json }, null, 2)}\n`);
    return failure.exitCode;
  } finally {
    process.off('SIGINT', onInterrupt);
  }
}

/**
 * The CLI's own failures, each carrying the exit code it ends with. Errors from
 * the API are the client's RenderqApiError; failure.ts turns any of them into
 * one line and a code.
 */
import { EXIT, type ExitCode } from './exit-codes.js';

/** Something the CLI can explain in one line and end with a known code. */
export abstract class CliError extends Error {
  abstract readonly exitCode: ExitCode;
}

/** Fix the command line (or the FILE it names): exit 2. */
export class UsageError extends CliError {
  override readonly name = 'UsageError';
  readonly exitCode = EXIT.usage;
}

/** Fetch the file again: what arrived differs from the job's record. Exit 5. */
export class ChecksumMismatchError extends CliError {
  override readonly name = 'ChecksumMismatchError';
  readonly exitCode = EXIT.checksum;

  constructor(
    message: string,
    /** What `--json` reports of it. */
    readonly details: {
      readonly job_id: string;
      readonly output_index: number;
      readonly expected: { readonly sha256: string; readonly size: number };
      readonly received: { readonly sha256: string; readonly size: number };
    },
  ) {
    super(message);
  }
}

/** Wait longer (or follow it again with `renderq wait`): the job or batch is still going. Exit 124. */
export class WaitTimedOutError extends CliError {
  override readonly name = 'WaitTimedOutError';
  readonly exitCode = EXIT.timeout;
}

/** Ctrl-C while following a job or batch: it goes on, `renderq wait ID` follows it again. Exit 130. */
export class InterruptedError extends CliError {
  override readonly name = 'InterruptedError';
  readonly exitCode = EXIT.interrupted;
}

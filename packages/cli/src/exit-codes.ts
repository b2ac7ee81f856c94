/**
 * The CLI's exit codes: what a script can tell from `$?` without reading any
 * output. `renderq --help` and docs/cli.md list the same table.
 */
export const EXIT = {
  ok: 0,
  /** A job or batch ended failed, cancelled or expired; `download`: some jobs have no outputs to fetch. */
  notCompleted: 1,
  /** The command line is wrong: unknown option, missing argument, unreadable or malformed FILE. */
  usage: 2,
  /** The API refused the request (4xx other than 401/403, 5xx), or could not be reached. */
  api: 3,
  /** The API key is missing, unknown (401), or not allowed to do this (403). */
  auth: 4,
  /** A downloaded file's sha256 or size differs from the job's record; the file was not kept. */
  checksum: 5,
  /** `--timeout` passed while waiting; the job or batch goes on. */
  timeout: 124,
  /** Ctrl-C; the job or batch goes on. */
  interrupted: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** The table as `--help` prints it. */
export const EXIT_CODES_HELP = `Exit codes:
  0    done (for wait, submit --wait, download: everything completed)
  1    a job or batch ended failed, cancelled or expired (download: some jobs have no outputs)
  2    usage error: unknown option, missing argument, unreadable or malformed FILE
  3    the API refused the request or could not be reached
  4    authentication: no key, an unknown key (401), or a key not allowed this (403)
  5    a downloaded file did not match its sha256 or size (it is not kept)
  124  --timeout passed while waiting (the job goes on)
  130  interrupted (Ctrl-C; the job goes on)`;

/**
 * Turns whatever a command threw into one line for stderr, an exit code, and (for
 * `--json`) an error object for stdout — never a stack trace. API refusals keep
 * their problem+json detail and every field path; a refused batch FILE names its
 * lines as they are in the file.
 */
import { RenderqApiError } from '@renderq/client';
import { CliError } from './errors.js';
import { EXIT, type ExitCode } from './exit-codes.js';

export interface Failure {
  readonly exitCode: ExitCode;
  /** One line, without the `renderq:` prefix. */
  readonly message: string;
  /** What `--json` prints on stdout under `error`. */
  readonly json: Record<string, unknown>;
}

/** An API refusal of a batch read from a file: its problems name file lines rather than job ordinals. */
export class BatchFileRefusedError extends Error {
  override readonly name = 'BatchFileRefusedError';
  constructor(
    readonly refusal: RenderqApiError,
    readonly file: string,
    /** The file line of the Nth job sent (1-based), as the API counts NDJSON lines. */
    readonly fileLineOf: (jobLine: number) => number,
  ) {
    super(refusal.message);
  }
}

const MAX_LISTED_ISSUES = 5;

export function describeFailure(error: unknown, apiUrl: string): Failure {
  if (error instanceof BatchFileRefusedError) return apiFailure(error.refusal, error.file, error.fileLineOf);
  if (error instanceof RenderqApiError) return apiFailure(error);
  if (error instanceof CliError) {
    return { exitCode: error.exitCode, message: error.message, json: { kind: kindOf(error), message: error.message } };
  }
  const unreachable = networkCause(error);
  if (unreachable) {
    const message = `cannot reach renderq at ${apiUrl}: ${unreachable} (set RENDERQ_URL or --url)`;
    return { exitCode: EXIT.api, message, json: { kind: 'network', message } };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { exitCode: EXIT.api, message, json: { kind: 'unexpected', message } };
}

function apiFailure(error: RenderqApiError, file?: string, fileLineOf?: (line: number) => number): Failure {
  const { problem, status } = error;
  const issues = (problem.errors ?? []).map((issue) =>
    issue.line !== undefined && fileLineOf ? { ...issue, line: fileLineOf(issue.line) } : issue,
  );
  const listed = issues.slice(0, MAX_LISTED_ISSUES).map((issue) => {
    const where = [
      issue.line !== undefined ? `${file ?? ''} line ${issue.line}`.trim() : '',
      issue.index !== undefined ? `job ${issue.index}` : '',
    ].filter((part) => part !== '');
    // The message is said of the field: "input.prompt is required".
    const sentence = issue.path ? `${issue.path} ${issue.message}` : issue.message;
    return where.length > 0 ? `${where.join(' ')}: ${sentence}` : sentence;
  });
  if (issues.length > MAX_LISTED_ISSUES) listed.push(`and ${issues.length - MAX_LISTED_ISSUES} more (see --json)`);
  const auth = status === 401 || status === 403;
  const hint = status === 401 ? ' (set RENDERQ_API_KEY or --api-key)' : '';
  const message = `${problem.detail} (${status})${listed.length > 0 ? `: ${listed.join('; ')}` : ''}${hint}`;
  return {
    exitCode: auth ? EXIT.auth : EXIT.api,
    message,
    json: { kind: 'api', ...problem, ...(problem.errors ? { errors: issues } : {}), ...(file ? { file } : {}) },
  };
}

function kindOf(error: CliError): string {
  switch (error.exitCode) {
    case EXIT.usage:
      return 'usage';
    case EXIT.checksum:
      return 'checksum';
    case EXIT.timeout:
      return 'timeout';
    case EXIT.interrupted:
      return 'interrupted';
    default:
      return 'error';
  }
}

/** fetch's "fetch failed" names the real reason in its cause (ECONNREFUSED, ENOTFOUND, a timeout). */
function networkCause(error: unknown): string | undefined {
  if (!(error instanceof TypeError) || error.message !== 'fetch failed') return undefined;
  const cause = (error as { cause?: unknown }).cause;
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code;
    return typeof code === 'string' && !cause.message.includes(code) ? `${code} ${cause.message}` : cause.message;
  }
  return 'the connection failed';
}

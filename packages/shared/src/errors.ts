/**
 * Errors named for what should happen next. A worker that catches one knows what
 * to do without inspecting messages: fail the job now, retry it later, retry it at
 * a given time, or stop taking jobs for everyone. Each is recognised by `name` as
 * well as `instanceof` (errors cross package copies and BullMQ's serialisation).
 */
import type { ErrorCode, PauseReason } from '@renderq/contract';

/** Why every worker must stop taking jobs; each has its own way back (`operator`: an operator resumes). */

/** The job cannot succeed: retrying would fail the same way. */
export class FailJobError extends Error {
  override readonly name = 'FailJobError';
  readonly retryable = false;
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A passing fault (5xx, network, storage outage): try again after a backoff. */
export class RetryLaterError extends Error {
  override readonly name = 'RetryLaterError';
  readonly retryable = true;
  constructor(
    message: string,
    /** The code the job fails with if attempts run out. */
    readonly code: ErrorCode = 'internal_error',
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The cause is global (bad key, no credits, rate limit): every worker stops taking jobs. */
export class StopTakingJobsError extends Error {
  override readonly name = 'StopTakingJobsError';
  readonly retryable = true;
  constructor(
    readonly reason: PauseReason,
    message: string,
    /** When taking jobs may resume by itself; undefined: checked, or an operator resumes. */
    readonly resumeAt?: Date,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export type RenderqError = FailJobError | RetryLaterError | StopTakingJobsError;

const names = new Set(['FailJobError', 'RetryLaterError', 'StopTakingJobsError']);

export function isRenderqError(error: unknown): error is RenderqError {
  return error instanceof Error && names.has(error.name);
}

/** Whether trying again can help; unknown errors are assumed passing until attempts run out. */
export function isRetryable(error: unknown): boolean {
  return isRenderqError(error) ? error.retryable : true;
}

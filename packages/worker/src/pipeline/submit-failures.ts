/**
 * How the submit step answers what goes wrong: a stored input image that cannot be read,
 * a submit Segmind refused or that failed, and a submit whose answer never came (an
 * ambiguous submit, which Segmind may have started and billed: AMBIGUOUS_SUBMIT_POLICY).
 */
import {
  FailJobError,
  failMoveFrom,
  type JobRecord,
  ObjectNotFoundError,
  RetryLaterError,
  StopTakingJobsError,
} from '@renderq/shared';
import { DelayedError, Worker } from 'bullmq';
import { AmbiguousSubmitError, SegmindOutageError } from '../segmind/classify.js';
import type { Admission } from '../segmind/submit-breaker.js';
import { failedStage, finish, jobLogger, type PipelineDeps, type RenderJob } from './pipeline-deps.js';

/**
 * Applies the ambiguous-submit policy. Returns true when the job should be
 * submitted (again) now.
 */
export async function settleAmbiguous(deps: PipelineDeps, record: JobRecord, why: string): Promise<boolean> {
  const policy = deps.settings.ambiguousSubmitPolicy;
  deps.metrics.segmindAmbiguousSubmits.inc({ policy });
  jobLogger(deps, record).warn({ policy, why }, 'ambiguous submit: Segmind may have started (and billed) a request');
  if (policy === 'fail') {
    await finish(
      deps,
      record,
      'fail_submit',
      failedStage({
        code: 'segmind_ambiguous_submit',
        message: `${why}; the submit's answer never arrived, and AMBIGUOUS_SUBMIT_POLICY=fail never pays twice`,
      }),
    );
    return false;
  }
  return true;
}

/**
 * A stored input image that could not be read: gone for good fails the job (nothing was sent); an
 * outage is retried with backoff while attempts last. The job has not moved, so no submit is at stake.
 */
export async function handleReadError(
  deps: PipelineDeps,
  job: RenderJob,
  record: JobRecord,
  error: unknown,
): Promise<void> {
  const move = failMoveFrom(record.stage.name);
  if (error instanceof ObjectNotFoundError) {
    await finish(
      deps,
      record,
      move,
      failedStage({ code: 'invalid_input', message: `the input image stored with the job is gone (${error.key})` }),
    );
    return;
  }
  if (job.attemptsMade + 1 >= (job.opts.attempts ?? 1)) {
    const message = `could not read the input image stored with the job: ${(error as Error).message}`;
    await finish(deps, record, move, failedStage({ code: 'storage_failed', message }));
    return;
  }
  jobLogger(deps, record).warn({ err: error }, 'reading a stored input image failed; retrying with backoff');
  throw error;
}

/** One submit of a job: its BullMQ job and lock token, its record, and what the outage breaker said. */
export interface SubmitAttempt {
  readonly job: RenderJob;
  readonly token: string | undefined;
  /** The record in this submit: the moves out of it are fenced by its submit's id. */
  readonly record: JobRecord;
  readonly admission: Extract<Admission, { go: true }>;
  /** Since when Segmind has not taken this job's submits, as the queued stage it left said. */
  readonly unavailableSince: string | undefined;
}

export async function handleSubmitError(deps: PipelineDeps, attempt: SubmitAttempt, error: unknown): Promise<void> {
  const { job, record } = attempt;
  const log = jobLogger(deps, record);
  const backToQueued = () => deps.store.transition(record, 'requeue', { name: 'queued' });
  if (error instanceof SegmindOutageError) {
    // A 5xx or a refused connection: no request was started, so waiting costs nothing.
    return waitOutOutage(deps, attempt, error);
  }
  // Any other outcome but a lost answer is Segmind answering: an outage, if one was held, is over.
  if (!(error instanceof AmbiguousSubmitError)) await deps.breaker.answered(attempt.admission);
  if (error instanceof AmbiguousSubmitError) {
    if (await settleAmbiguous(deps, record, error.message)) {
      await backToQueued();
      throw new RetryLaterError(error.message, 'segmind_ambiguous_submit', { cause: error });
    }
    return;
  }
  if (error instanceof FailJobError) {
    await finish(deps, record, 'fail_submit', failedStage({ code: error.code, message: error.message }));
    return;
  }
  if (error instanceof StopTakingJobsError) {
    // Not this job's fault: it goes back to wait without spending an attempt.
    await backToQueued();
    if (error.reason === 'rate_limited') {
      const cut = await deps.budget.cut(error.resumeAt ?? new Date(Date.now() + 60_000));
      const waitMs = Math.max(100, cut.holdUntil.getTime() - Date.now());
      log.warn(
        { resumeAt: error.resumeAt, holdUntil: cut.holdUntil, perSecond: cut.perSecond },
        'Segmind rate limit: holding every submit until the window has ended',
      );
      await deps.renderQueue.rateLimit(waitMs);
    } else {
      log.error({ reason: error.reason, err: error }, 'pausing the render queue for everyone');
      await deps.pause.pause(error.reason, error.message);
    }
    throw Worker.RateLimitError();
  }
  await backToQueued();
  const lastAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
  if (lastAttempt) {
    const code = error instanceof RetryLaterError ? error.code : 'internal_error';
    await finish(deps, record, 'fail_queued', failedStage({ code, message: (error as Error).message }));
    return;
  }
  log.warn({ err: error, attempt: job.attemptsMade + 1 }, 'submit failed; retrying with backoff');
  throw error;
}

/**
 * A submit Segmind did not take (5xx, or no connection): the job waits for Segmind without
 * spending an attempt — held with every other submit while the outage breaker is open, else
 * tried again after a backoff — until SEGMIND_OUTAGE_WAIT_SECONDS after the first such refusal
 * in a row (so that a job Segmind always refuses still ends).
 */
async function waitOutOutage(deps: PipelineDeps, attempt: SubmitAttempt, error: SegmindOutageError): Promise<void> {
  const { job, token, record } = attempt;
  const log = jobLogger(deps, record);
  const since = attempt.unavailableSince ?? new Date().toISOString();
  await deps.store.transition(record, 'requeue', { name: 'queued', unavailable_since: since });
  const heldUntil = await deps.breaker.failed(attempt.admission, error.message);
  if (Date.now() - Date.parse(since) >= deps.settings.outageWaitMs) {
    const waited = `${Math.round(deps.settings.outageWaitMs / 1000)} s`;
    const message = `Segmind took no submit of this job for ${waited} (SEGMIND_OUTAGE_WAIT_SECONDS); last: ${error.message}`;
    await finish(deps, record, 'fail_queued', failedStage({ code: 'segmind_unavailable', message }));
    return;
  }
  if (heldUntil !== undefined) {
    log.warn(
      { err: error, heldUntil: new Date(heldUntil) },
      'Segmind outage: every submit is held until a probe gets through',
    );
    await deps.renderQueue.rateLimit(Math.max(1, heldUntil - Date.now()));
    throw Worker.RateLimitError();
  }
  // Tried again sooner than an outage would hold, and later each time: 2 s doubling to a minute, ±25 %.
  const tries = Math.max(0, job.attemptsStarted - 1);
  const backoffMs = Math.min(60_000, 2_000 * 2 ** Math.min(tries, 5)) * (0.75 + Math.random() / 2);
  log.warn({ err: error, retryInMs: Math.round(backoffMs) }, 'Segmind did not take the submit; trying again later');
  if (!token) throw error;
  await job.moveToDelayed(Date.now() + Math.round(backoffMs), token);
  throw new DelayedError();
}

/**
 * The render queue's step: submit a job to Segmind once, and hand it to the poll
 * queue. The request id is persisted before anything else happens after a submit;
 * a job found mid-submit (its worker died, or the answer never came) had an
 * ambiguous submit, settled by the configured policy and counted. Input images
 * stored at enqueue are read back first, before anything is at stake, and sent to
 * Segmind as the caller sent them (Segmind cannot reach renderq's storage). A job
 * cancelled while its submit was under way is still followed to the end at Segmind,
 * for what Segmind charges for it.
 */
import {
  assertNever,
  FailJobError,
  failMoveFrom,
  isFinal,
  type JobRecord,
  ObjectNotFoundError,
  RetryLaterError,
  StopTakingJobsError,
} from '@renderq/shared';
import { type Job, Worker } from 'bullmq';
import { AmbiguousSubmitError } from '../segmind/classify.js';
import { failedStage, finish, jobLogger, type PipelineDeps } from './pipeline-deps.js';

export type RenderJob = Job<{ jobId: string }>;

export function submitStep(deps: PipelineDeps) {
  return async (job: RenderJob): Promise<void> => {
    const record = await deps.store.get(job.data.jobId);
    if (!record || isFinal(record.stage.name)) return;
    if (record.stage.name === 'polling' || record.stage.name === 'storing') {
      // Submitted already; the hand-over to the poll queue may not have happened.
      await handOver(deps, record.id, 0);
      return;
    }

    // Read before the job moves: a worker that dies or fails reading leaves it queued, never mid-submit.
    let images: Record<string, string>;
    try {
      images = record.inputs.length > 0 ? await deps.readInputs(record.inputs) : {};
    } catch (error) {
      return handleReadError(deps, job, record, error);
    }

    // Segmind's rate limit: a slot from the budget every worker shares, or back to wait until there is one.
    const heldMs = await takeSubmitSlot(deps);
    if (heldMs > 0) {
      await deps.renderQueue.rateLimit(heldMs);
      throw Worker.RateLimitError();
    }

    switch (record.stage.name) {
      case 'submitting':
        if (!(await settleAmbiguous(deps, record, 'the worker stopped during a submit'))) return;
        break;
      case 'queued': {
        const moved = await deps.store.transition(record, 'submit', {
          name: 'submitting',
          since: new Date().toISOString(),
        });
        if (!moved.ok) return;
        deps.metrics.jobStageSeconds.observe(
          { model: record.model, stage: 'queue_wait' },
          (Date.now() - Date.parse(record.created_at)) / 1000,
        );
        break;
      }
      case 'completed':
      case 'failed':
      case 'cancelled':
        return;
      default:
        assertNever(record.stage);
    }

    if (!(await deps.inflight.reserve(deps.settings.maxInflight))) {
      await deps.store.transition(record, 'requeue', { name: 'queued' });
      await deps.renderQueue.rateLimit(1_000);
      throw Worker.RateLimitError();
    }

    let answer: Awaited<ReturnType<PipelineDeps['segmind']['submit']>>;
    try {
      // Outputs as URLs keep result bodies small; renderq stores them itself.
      answer = await deps.segmind.submit(record.model, { ...record.input, ...images, base64: false });
    } catch (error) {
      return handleSubmitError(deps, job, record, error);
    }
    deps.budget.accepted();
    const submittedAt = Date.now();
    const request = {
      request_id: answer.request_id,
      status_url: answer.status_url,
      response_url: answer.response_url,
      submitted_at: new Date(submittedAt).toISOString(),
      polls: 0,
    };
    const moved = await deps.store.transition(
      record,
      'submitted',
      { name: 'polling', ...request },
      { segmind_request_id: answer.request_id },
    );
    const submitted = jobLogger(deps, { ...record, segmind_request_id: answer.request_id });
    if (!moved.ok) {
      // Segmind runs and bills the request anyway: followed to the end for its cost, its result discarded.
      if (await deps.store.followCancelled(record.id, request, 'start')) {
        submitted.info('job was cancelled during its submit: following the request for its cost only');
        await handOver(deps, record.id, await deps.schedule.nextPollDelayMs(record.model, submittedAt));
      } else {
        submitted.info({ outcome: moved }, 'job moved on during its submit: the Segmind result will be discarded');
      }
      return;
    }
    submitted.debug('submitted to Segmind');
    await handOver(deps, record.id, await deps.schedule.nextPollDelayMs(record.model, submittedAt));
  };
}

/**
 * Draws a submit from the shared rate budget, waiting for a reserved slot when it is near.
 * Returns 0 when the submit may go now, or how long to put the job back for.
 */
async function takeSubmitSlot(deps: PipelineDeps): Promise<number> {
  for (;;) {
    const drawnAt = Date.now();
    const draw = await deps.budget.draw(drawnAt);
    if (!draw.granted) return Math.max(1, draw.waitMs);
    if (draw.waitMs === 0) return 0;
    await new Promise((resolve) => setTimeout(resolve, draw.waitMs));
    // A 429 while this slot waited voids it (paced at the rate it found too high, or inside its hold).
    if (!(await deps.budget.voidedSince(drawnAt))) return 0;
  }
}

/** Queues the job's polling, once: the poll job's id is the renderq job id. */
async function handOver(deps: PipelineDeps, jobId: string, delayMs: number): Promise<void> {
  await deps.pollQueue.add('poll', { jobId }, { jobId, delay: Math.max(0, Math.round(delayMs)) });
}

/**
 * Applies the ambiguous-submit policy. Returns true when the job should be
 * submitted (again) now.
 */
async function settleAmbiguous(deps: PipelineDeps, record: JobRecord, why: string): Promise<boolean> {
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
async function handleReadError(deps: PipelineDeps, job: RenderJob, record: JobRecord, error: unknown): Promise<void> {
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

async function handleSubmitError(deps: PipelineDeps, job: RenderJob, record: JobRecord, error: unknown): Promise<void> {
  const log = jobLogger(deps, record);
  const backToQueued = () => deps.store.transition(record, 'requeue', { name: 'queued' });
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

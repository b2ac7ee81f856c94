/**
 * The render queue's step: submit a job to Segmind once, and hand it to the poll
 * queue. The request id is persisted before anything else happens after a submit;
 * a job found mid-submit (its worker died or stalled) waits for that worker to record
 * Segmind's answer (submit-takeover.ts), and failing that had an ambiguous submit,
 * settled by the configured policy and counted. Input images
 * stored at enqueue are read back first, before anything is at stake, and sent to
 * Segmind as the caller sent them (Segmind cannot reach renderq's storage). A job
 * cancelled while its submit was under way is still followed to the end at Segmind,
 * for what Segmind charges for it.
 */
import { randomUUID } from 'node:crypto';
import type { Span } from '@opentelemetry/api';
import { assertNever, type JobRecord, pollPriority } from '@renderq/shared';
import { Worker } from 'bullmq';
import { finish, jobLogger, type PipelineDeps, type RenderJob } from './pipeline-deps.js';
import { handleReadError, handleSubmitError, type SubmitAttempt, settleAmbiguous } from './submit-failures.js';
import { waitForSubmitter } from './submit-takeover.js';

export function submitStep(deps: PipelineDeps) {
  return async (job: RenderJob, token?: string): Promise<void> => {
    const record = await deps.store.get(job.data.jobId);
    if (!record) return;
    const stage = record.stage;
    switch (stage.name) {
      case 'queued':
        if (record.start_by !== null && Date.now() >= Date.parse(record.start_by)) return expire(deps, record);
        return submit(deps, job, token, record, () => startSubmit(deps, record));
      case 'submitting': {
        // Found mid-submit: its worker died or stalled, and recorded no answer within the wait.
        await waitForSubmitter(deps, job, token, record, stage);
        const why = `its worker stopped or stalled during the submit and recorded no answer by ${waitedUntil(deps, stage.since)}`;
        return submit(deps, job, token, record, async () =>
          (await settleAmbiguous(deps, record, why)) ? record : undefined,
        );
      }
      case 'polling':
        // Submitted already; the hand-over to the poll queue may not have happened.
        return handOver(deps, record.id, Date.parse(stage.submitted_at), 0);
      case 'storing':
        return handOver(deps, record.id, Date.now(), 0);
      case 'completed':
      case 'failed':
      case 'cancelled':
      case 'expired':
        return;
      default:
        return assertNever(stage);
    }
  };
}

/** A job whose start-by deadline passed before its submit ends `expired`: never sent, costing nothing. */
async function expire(deps: PipelineDeps, record: JobRecord): Promise<void> {
  await finish(deps, record, 'expire', { name: 'expired' }, { cost: 0 });
}

/** When a submit that began at `since` stops being waited for, as the failure's message says it. */
function waitedUntil(deps: PipelineDeps, since: string): string {
  return new Date(Date.parse(since) + deps.settings.ambiguousSubmitWaitMs).toISOString();
}

/**
 * Submits the job to Segmind and hands it to the poll queue. `enterSubmit` moves the job
 * into its submit and answers its record there, or undefined when the submit must not be made;
 * it runs only once the inputs are read and a submit slot is taken, so that a failed read or a
 * slot not yet due leaves the job where it was, never mid-submit.
 */
async function submit(
  deps: PipelineDeps,
  job: RenderJob,
  token: string | undefined,
  record: JobRecord,
  enterSubmit: () => Promise<JobRecord | undefined>,
): Promise<void> {
  const startedAt = Date.now();
  // Read before the job moves: a worker that dies or fails reading leaves it queued, never mid-submit.
  let images: Record<string, string>;
  try {
    images = record.inputs.length > 0 ? await deps.readInputs(record.inputs) : {};
  } catch (error) {
    return handleReadError(deps, job, record, error);
  }

  // A Segmind outage: every submit held (no attempt spent) while the shared breaker is open, bar one probe.
  const admission = await deps.breaker.admit();
  if (!admission.go) {
    await deps.renderQueue.rateLimit(admission.waitMs);
    throw Worker.RateLimitError();
  }

  // Segmind's rate limit: a slot from the budget every worker shares, or back to wait until there is one.
  const slotFrom = Date.now();
  const heldMs = await takeSubmitSlot(deps);
  const slotWaitMs = Date.now() - slotFrom;
  if (heldMs > 0) {
    await deps.renderQueue.rateLimit(heldMs);
    throw Worker.RateLimitError();
  }

  // A worker stalled past its lock (a frozen Redis, a blocked event loop) has lost the job to another
  // worker by now: submitting as well would make the other find it mid-submit. The lock is renewed
  // instead, and the job given up when it is gone.
  if (token && (await job.extendLock(token, deps.settings.lockDurationMs)) !== 1) {
    jobLogger(deps, record).warn("lost the job's lock before its submit: left to the worker that holds it now");
    throw new LockLostError(record.id);
  }

  const firstTry = record.stage.name === 'queued' && record.started_at === null;
  const unavailableSince = record.stage.name === 'queued' ? record.stage.unavailable_since : undefined;
  // Its moves from here on name this submit: a worker that stalls past its lock answers only for it.
  const inSubmit = await enterSubmit();
  if (!inSubmit) return;
  const enteredAt = Date.now();
  if (firstTry) traceQueueWait(deps, record, slotWaitMs, enteredAt);
  const attributes = { 'renderq.job_id': record.id, 'renderq.model': record.model };
  return deps.traces.run(
    record.trace_parent,
    'renderq.submit',
    attributes,
    (span) =>
      submitNow(
        deps,
        { job, token, record: inSubmit, admission, unavailableSince },
        images,
        startedAt + slotWaitMs,
        span,
      ),
    { startMs: enteredAt, jobId: record.id },
  );
}

/**
 * The job's wait before its submit, as a span made afterwards: in the render queue since it was
 * created, with how much of it went on waiting for a slot of Segmind's rate budget.
 */
function traceQueueWait(deps: PipelineDeps, record: JobRecord, slotWaitMs: number, endMs: number): void {
  deps.traces.past(
    record.trace_parent,
    'renderq.queue_wait',
    { startMs: Date.parse(record.created_at), endMs },
    // Few attributes: each costs a little on every job (the job view has the rest).
    slotWaitMs > 0
      ? { 'renderq.job_id': record.id, 'renderq.tenant': record.tenant, 'renderq.rate_wait_ms': slotWaitMs }
      : { 'renderq.job_id': record.id, 'renderq.tenant': record.tenant },
  );
}

/** The submit itself, once the job is in it: an in-flight place, Segmind's answer, the hand-over to polling. */
async function submitNow(
  deps: PipelineDeps,
  attempt: SubmitAttempt,
  images: Record<string, string>,
  workFrom: number,
  span: Span,
): Promise<void> {
  const { record } = attempt;
  if (!(await deps.inflight.reserve(deps.settings.maxInflight))) {
    span.setAttribute('renderq.requeued', 'segmind_max_inflight');
    await deps.store.transition(record, 'requeue', { name: 'queued' });
    await deps.renderQueue.rateLimit(1_000);
    throw Worker.RateLimitError();
  }

  let answer: Awaited<ReturnType<PipelineDeps['segmind']['submit']>>;
  try {
    // Outputs as URLs keep result bodies small; renderq stores them itself.
    answer = await deps.segmind.submit(record.model, { ...record.input, ...images, base64: false });
  } catch (error) {
    return handleSubmitError(deps, attempt, error);
  }
  if (await deps.breaker.answered(attempt.admission)) {
    jobLogger(deps, record).warn('Segmind takes submits again: the outage breaker is closed');
  }
  deps.budget.accepted();
  span.setAttribute('segmind.request_id', answer.request_id);
  deps.submitWork.observe((Date.now() - workFrom) / 1000);
  deps.metrics.tenantSubmits.inc({ tenant: deps.metrics.tenantLabels.label(record.tenant) });
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
      await handOver(deps, record.id, submittedAt, await deps.schedule.nextPollDelayMs(record.model, submittedAt));
    } else {
      submitted.info({ outcome: moved }, 'job moved on during its submit: the Segmind result will be discarded');
    }
    return;
  }
  submitted.debug('submitted to Segmind');
  await handOver(deps, record.id, submittedAt, await deps.schedule.nextPollDelayMs(record.model, submittedAt));
}

/** Thrown when a job's BullMQ lock lapsed before its submit: BullMQ must not count it as this worker's outcome. */
class LockLostError extends Error {
  constructor(jobId: string) {
    super(`job ${jobId}: its lock lapsed before the submit; another worker holds it`);
    this.name = 'LockLostError';
  }
}

/** Moves a queued job into a submit of its own id; undefined when it moved on meanwhile (cancelled). */
async function startSubmit(deps: PipelineDeps, record: JobRecord): Promise<JobRecord | undefined> {
  const stage = { name: 'submitting', since: new Date().toISOString(), submit_id: randomUUID() } as const;
  const moved = await deps.store.transition(record, 'submit', stage);
  if (!moved.ok) return undefined;
  const waitedSeconds = (Date.now() - Date.parse(record.created_at)) / 1000;
  deps.metrics.jobStageSeconds.observe({ model: record.model, stage: 'queue_wait' }, waitedSeconds);
  // Once per job: a job put back after its first try (Segmind's in-flight cap) has waited already.
  if (record.started_at === null) {
    deps.metrics.tenantQueueWait.observe({ tenant: deps.metrics.tenantLabels.label(record.tenant) }, waitedSeconds);
  }
  return { ...record, stage };
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

/**
 * Queues the job's polling, once: the poll job's id is the renderq job id, its priority the minute
 * of its submit (the oldest requests are polled first when polls pile up).
 */
async function handOver(deps: PipelineDeps, jobId: string, submittedAtMs: number, delayMs: number): Promise<void> {
  const options = { jobId, delay: Math.max(0, Math.round(delayMs)), priority: pollPriority(submittedAtMs) };
  await deps.pollQueue.add('poll', { jobId }, options);
}

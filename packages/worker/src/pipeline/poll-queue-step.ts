/**
 * The poll queue's step, as BullMQ step jobs: while Segmind works a job, it waits as a
 * delayed job and holds no worker slot. Each pass acts on the stage the job's record is
 * in now — one poll (poll-step.ts), storing the outputs (store-step.ts), or following a
 * cancelled job's request for its cost (follow-cancelled-step.ts) — and then either
 * finishes the job or moves it back to delayed until the next pass. A result in hand is stored
 * in the same pass, unless its request is old enough that Segmind may soon forget others like it:
 * then storing waits behind every poll (docs/operations.md, "Segmind's retention window").
 */
import { assertNever, type JobRecord, STORE_PRIORITY } from '@renderq/shared';
import { DelayedError } from 'bullmq';
import { followCancelledRequest } from './follow-cancelled-step.js';
import type { PipelineDeps, PollJob } from './pipeline-deps.js';
import { pollRequest } from './poll-step.js';
import { type StoringStage, storeOutputs } from './store-step.js';

export function pollQueueStep(deps: PipelineDeps) {
  return async (job: PollJob, token?: string): Promise<void> => {
    const record = await deps.store.get(job.data.jobId);
    if (!record) return;
    const stage = record.stage;
    switch (stage.name) {
      case 'polling': {
        // The poll's span runs from the previous look (or the submit) to this answer: the spans of a
        // job's polls add up to its time at Segmind.
        const since = Date.parse(stage.checked_at ?? stage.submitted_at);
        const storing = await deps.traces.run(
          record.trace_parent,
          'renderq.poll',
          { 'renderq.job_id': record.id },
          (span) => pollRequest(deps, job, token, record, stage, span),
          { startMs: since, jobId: record.id },
        );
        if (!storing) return;
        if (token && Date.now() - Date.parse(stage.submitted_at) > deps.settings.resultRetentionMs / 4) {
          // An old request: the results of others as old come first (Segmind forgets them), storing after.
          await job.changePriority({ priority: STORE_PRIORITY });
          await job.moveToDelayed(Date.now(), token);
          throw new DelayedError();
        }
        await store(deps, job, token, storing.record, storing.stage);
        return;
      }
      case 'storing':
        return store(deps, job, token, record, stage);
      case 'cancelled':
        // Cancelled while its request was at Segmind, which runs and bills it all the same (none if cancelled before).
        if (record.cancelled_request) return followCancelledRequest(deps, job, token, record, record.cancelled_request);
        return;
      case 'completed':
      case 'failed':
        return;
      case 'queued':
      case 'submitting':
      case 'expired':
        // A job is handed to this queue only once submitted, and no move takes it back: nothing to do.
        return;
      default:
        return assertNever(stage);
    }
  };
}

function store(deps: PipelineDeps, job: PollJob, token: string | undefined, record: JobRecord, stage: StoringStage) {
  return deps.traces.run(
    record.trace_parent,
    'renderq.store',
    stage.attempts > 0
      ? { 'renderq.job_id': record.id, 'renderq.store_attempt': stage.attempts + 1 }
      : { 'renderq.job_id': record.id },
    (span) => storeOutputs(deps, job, token, record, stage, span),
    { jobId: record.id },
  );
}

/**
 * The poll queue's step, as BullMQ step jobs: while Segmind works a job, it waits as a
 * delayed job and holds no worker slot. Each pass acts on the stage the job's record is
 * in now — one poll (poll-step.ts), storing the outputs (store-step.ts), or following a
 * cancelled job's request for its cost (follow-cancelled-step.ts) — and then either
 * finishes the job or moves it back to delayed until the next pass.
 */
import { assertNever } from '@renderq/shared';
import { followCancelledRequest } from './follow-cancelled-step.js';
import type { PipelineDeps, PollJob } from './pipeline-deps.js';
import { pollRequest } from './poll-step.js';
import { storeOutputs } from './store-step.js';

export function pollQueueStep(deps: PipelineDeps) {
  return async (job: PollJob, token?: string): Promise<void> => {
    const record = await deps.store.get(job.data.jobId);
    if (!record) return;
    const stage = record.stage;
    switch (stage.name) {
      case 'polling':
        return pollRequest(deps, job, token, record, stage);
      case 'storing':
        return storeOutputs(deps, job, token, record, stage);
      case 'cancelled':
        // Cancelled while its request was at Segmind, which runs and bills it all the same (none if cancelled before).
        if (record.cancelled_request) return followCancelledRequest(deps, job, token, record, record.cancelled_request);
        return;
      case 'completed':
      case 'failed':
        return;
      case 'queued':
      case 'submitting':
        // A job is handed to this queue only once submitted, and no move takes it back: nothing to do.
        return;
      default:
        return assertNever(stage);
    }
  };
}

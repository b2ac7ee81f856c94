/**
 * A job another worker left mid-submit. That worker died, or stalled past its BullMQ lock (a blocked
 * event loop, a frozen process or host) and may yet read Segmind's answer. Settling the submit as
 * ambiguous at once would throw that answer away — a request paid for, with no result — so the job
 * first waits, as a delayed BullMQ job spending no attempt, until AMBIGUOUS_SUBMIT_WAIT_MS after the
 * submit began. Meanwhile the submit's own worker may still record its request id: the move is fenced
 * by the submit's id (lifecycle.ts), so it lands only while the job is still in that very submit.
 */
import type { JobRecord, JobStage } from '@renderq/shared';
import { DelayedError } from 'bullmq';
import { jobLogger, type PipelineDeps, type RenderJob } from './pipeline-deps.js';

type SubmittingStage = Extract<JobStage, { name: 'submitting' }>;

/** Returns once the submit's own worker has had its time; until then delays the job (throws DelayedError). */
export async function waitForSubmitter(
  deps: PipelineDeps,
  job: RenderJob,
  token: string | undefined,
  record: JobRecord,
  stage: SubmittingStage,
): Promise<void> {
  const until = Date.parse(stage.since) + deps.settings.ambiguousSubmitWaitMs;
  // Without a lock token (a step run by hand) there is no BullMQ job to delay: settled at once.
  if (!token || Date.now() >= until) return;
  jobLogger(deps, record).warn(
    { submitting_since: stage.since, wait_until: new Date(until).toISOString() },
    "found mid-submit: its worker stalled or died; waiting for it to record Segmind's answer",
  );
  // Back at the head of the queue when due, as BullMQ's own stall check puts a job back: priority 0 is
  // BullMQ's plain wait list, taken before any prioritized job (a promoted one would queue behind its tier).
  await job.changePriority({ priority: 0 });
  await job.moveToDelayed(until, token);
  throw new DelayedError();
}

/**
 * The reconciler's pass over unfinished jobs. A job recorded as queued or working that
 * has gone a while without moving is checked against BullMQ: a page of them costs one
 * round trip (their records and BullMQ job hashes at a glance), so a backlog of
 * thousands of legitimately waiting jobs — a long queue, a queue paused for credits,
 * whose BullMQ jobs are all there — costs a handful. Only the few whose BullMQ job is
 * gone (a queue emptied or a job removed from a dashboard, a failover at the wrong
 * moment) or finished are looked at further and queued again under the renderq id,
 * with the job's priority; adding under an existing id is a no-op, and the steps are
 * safe to run twice (a job found mid-submit goes through the ambiguous-submit policy).
 * A cancelled job still following its request at Segmind for its cost counts as working:
 * its follow-up lives on the poll queue like any polling job's.
 */
import {
  glanceAtQueueJob,
  isFinal,
  type JobStore,
  type Logger,
  type Metrics,
  pipelineAnswers,
  QUEUE_NAMES,
  type QueueJobGlance,
  type RedisConnection,
  readQueueJobGlance,
  STORE_PRIORITY,
  type UnfinishedJobGlance,
} from '@renderq/shared';
import type { Queue } from 'bullmq';
import { emptyReport, type PassOptions, type PassReport } from './pass.js';

export interface LostJobsDeps {
  readonly redis: RedisConnection;
  readonly store: JobStore;
  readonly renderQueue: Queue;
  readonly pollQueue: Queue;
  readonly logger: Logger;
  readonly metrics: Metrics;
}

/** An unfinished job with the BullMQ job that should carry it now. */
interface JobLook {
  readonly job: UnfinishedJobGlance;
  readonly queue: Queue;
  readonly bullmq: QueueJobGlance;
}

export async function reconcileLostJobs(deps: LostJobsDeps, options: PassOptions): Promise<PassReport> {
  const report = emptyReport();
  for await (const page of deps.store.unfinishedJobsToCheck(options.staleMs, options)) {
    report.pages++;
    report.checked += page.length;
    // A queued job past its start-by deadline ends here, however deep in a backlog: it is never submitted.
    const now = Date.now();
    const pastStartBy = page.filter((job) => job.stage === 'queued' && job.startBy !== null && job.startBy <= now);
    for (const job of pastStartBy) {
      const moved = await deps.store.transition(job.id, 'expire', { name: 'expired' }, { cost: 0 });
      if (moved.ok) deps.metrics.jobsFinished.inc({ model: job.model, status: 'expired' });
    }
    report.expired += pastStartBy.length;
    const expired = new Set(pastStartBy);
    const unfinished = page.filter(
      (job) => !expired.has(job) && job.stage !== undefined && (!isFinal(job.stage) || job.following),
    );
    if (unfinished.length < page.length - expired.size) {
      const live = new Set(unfinished);
      await deps.store.forgetUnfinished(page.filter((job) => !live.has(job)).map((job) => job.id));
    }
    const looks = await lookUp(deps, unfinished);
    const lost = looks.filter((look) => look.bullmq.presence !== 'present');
    // A job whose creator has not confirmed its BullMQ add is recoverUnenqueued's (and may belong
    // to a batch that was never committed, which must not run).
    const unsettled = await deps.store.creationUnsettled(
      lost.filter((look) => look.job.stage === 'queued').map((look) => look.job),
    );
    const requeue = lost.filter((look) => !unsettled.has(look.job.id));
    const overdueBefore = Date.now() - options.staleMs;
    const overdue = looks.filter(
      (look) => look.bullmq.presence === 'present' && look.bullmq.dueAt !== null && look.bullmq.dueAt < overdueBefore,
    );
    const [, promoted] = await Promise.all([
      Promise.all(requeue.map((look) => requeueJob(deps, look))),
      Promise.all(overdue.map((look) => promote(deps, look))),
    ]);
    report.requeued += requeue.length;
    report.promoted += promoted.filter(Boolean).length;
  }
  return report;
}

/**
 * Pairs each job with the BullMQ job that should carry it: the render queue's (already
 * glanced at) while queued or submitting, the poll queue's once submitted — glanced at
 * here, in one round trip for the page.
 */
async function lookUp(deps: LostJobsDeps, jobs: readonly UnfinishedJobGlance[]): Promise<JobLook[]> {
  const submitted = jobs.filter((job) => job.stage === 'polling' || job.stage === 'storing' || job.following);
  const polls = new Map<string, QueueJobGlance>();
  if (submitted.length > 0) {
    const pipeline = deps.redis.pipeline();
    for (const job of submitted) glanceAtQueueJob(pipeline, deps.pollQueue, job.id);
    const answers = pipelineAnswers(await pipeline.exec());
    for (const [i, job] of submitted.entries()) {
      polls.set(job.id, readQueueJobGlance(answers[i * 2], answers[i * 2 + 1]));
    }
  }
  return jobs.map((job) => {
    const poll = polls.get(job.id);
    return poll ? { job, queue: deps.pollQueue, bullmq: poll } : { job, queue: deps.renderQueue, bullmq: job.render };
  });
}

async function requeueJob(deps: LostJobsDeps, { job, queue, bullmq }: JobLook): Promise<void> {
  // A finished BullMQ job keeps its id taken: it goes first, or the add would be a no-op.
  if (bullmq.presence === 'finished') await queue.remove(job.id);
  const poll = queue === deps.pollQueue;
  // A lost poll goes ahead of every other (priority 1): its request has been at Segmind a while. A lost
  // storing (its result in hand) goes after them all, as storing always does.
  const priority = !poll ? job.priority : job.stage === 'storing' ? STORE_PRIORITY : 1;
  await queue.add(poll ? 'poll' : QUEUE_NAMES.render, { jobId: job.id }, { jobId: job.id, priority });
  deps.metrics.reconcilerRequeued.inc({ kind: job.stage === 'queued' ? 'queued_job' : 'working_job' });
  deps.logger.warn(
    { job_id: job.id, stage: job.stage, queue: queue.name, bullmq: bullmq.presence, priority: job.priority },
    `re-queued a ${job.stage} job whose BullMQ job was ${bullmq.presence === 'missing' ? 'gone' : 'finished'}`,
  );
}

async function promote(deps: LostJobsDeps, { job, queue, bullmq }: JobLook): Promise<boolean> {
  const delayed = await queue.getJob(job.id);
  if (!delayed) return false;
  try {
    await delayed.promote();
  } catch {
    return false; // It moved on since the glance: nothing to promote.
  }
  deps.logger.warn(
    { job_id: job.id, stage: job.stage, queue: queue.name, due_at: new Date(bullmq.dueAt ?? 0).toISOString() },
    'promoted a delayed job long past its time',
  );
  return true;
}

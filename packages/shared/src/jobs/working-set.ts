/**
 * The unfinished jobs index as the reconciler uses it: every unfinished job (kept there by
 * the create and transition scripts) scored by when it last moved or was checked, so jobs
 * whose BullMQ job was lost (a queue emptied from a dashboard, a failover) are found
 * without scanning every record.
 */
import { PRIORITY } from '../queues.js';
import { batchKey, jobKey, unenqueuedKey, unfinishedJobsKey } from '../redis/keys.js';
import {
  glanceAtQueueJob,
  pipelineAnswers,
  type QueueJobGlance,
  readQueueJobGlance,
} from '../redis/queue-job-glance.js';
import { waitingForShare } from './fair-share.js';
import { pieceField } from './record-hash.js';
import { STATUS_OF_STAGE, type StageName } from './stage.js';
import type { StoreContext } from './store-context.js';

/** An unfinished job as the reconciler first sees it: its record and its render-queue job at a glance. */
export interface UnfinishedJobGlance {
  readonly id: string;
  /** undefined: the record is gone. */
  readonly stage: StageName | undefined;
  /** Cancelled, and still following its request at Segmind for its cost (on the poll queue). */
  readonly following: boolean;
  readonly priority: number;
  readonly batchId: string | null;
  /** '' when the record is gone. */
  readonly tenant: string;
  /** Its start-by deadline (ms), if it has one, and its model (for counting it when it expires). */
  readonly startBy: number | null;
  readonly model: string;
  /** The render queue's BullMQ job under the same id (where a queued or submitting job lives). */
  readonly render: QueueJobGlance;
}

const FOLLOWING_PIECE = pieceField('cancelled_request', 1);

export interface PageOptions {
  readonly pageSize?: number;
  readonly maxPages?: number;
}

/**
 * Unfinished jobs (queued or working, or cancelled and still following their request at
 * Segmind) that have neither moved nor been checked for `olderThanMs`, oldest first, a
 * page at a time: each page with its records and render-queue jobs at a glance, and
 * already marked checked (the reconciler comes back to it only after another
 * `olderThanMs`). One round trip per page — the glance, the mark and the next page's ids
 * travel in one pipeline — and at most `maxPages` pages, however long the backlog: the
 * rest come first next time.
 */
export async function* unfinishedJobsToCheck(
  ctx: StoreContext,
  olderThanMs: number,
  { pageSize = 1_000, maxPages = 5 }: PageOptions = {},
): AsyncGenerator<UnfinishedJobGlance[]> {
  const { redis, prefix, queue } = ctx;
  const key = unfinishedJobsKey(prefix);
  let ids = await redis.zrangebyscore(key, '-inf', Date.now() - olderThanMs, 'LIMIT', 0, pageSize);
  for (let page = 1; ids.length > 0; page++) {
    const now = Date.now();
    const pipeline = redis.pipeline();
    for (const id of ids) {
      // A request being followed is a long value: whole (an earlier layout) or in pieces.
      pipeline.hmget(
        jobKey(prefix, id),
        'stage',
        'priority',
        'batch_id',
        'cancelled_request',
        FOLLOWING_PIECE,
        'tenant',
        'start_by',
        'model',
      );
      glanceAtQueueJob(pipeline, queue, id);
    }
    // XX: a job that finished meanwhile is not put back.
    pipeline.zadd(key, 'XX', ...ids.flatMap((id) => [now, id]));
    const more = page < maxPages && ids.length === pageSize;
    if (more) pipeline.zrangebyscore(key, '-inf', now - olderThanMs, 'LIMIT', 0, pageSize);
    const answers = pipelineAnswers(await pipeline.exec());
    yield ids.map((id, i) => {
      const [stage, priority, batchId, whole, piece, tenant, startBy, model] = answers[i * 3] as (string | null)[];
      return {
        id,
        stage: stage && stage in STATUS_OF_STAGE ? (stage as StageName) : undefined,
        following: stage === 'cancelled' && Boolean(whole || piece),
        priority: Number(priority) || PRIORITY.single,
        batchId: batchId || null,
        tenant: tenant ?? '',
        startBy: startBy ? Date.parse(startBy) : null,
        model: model ?? '',
        render: readQueueJobGlance(answers[i * 3 + 1], answers[i * 3 + 2]),
      };
    });
    ids = more ? (answers[ids.length * 3 + 1] as string[]) : [];
  }
}

/** Drops jobs from the unfinished jobs (their record is gone or final). */
export async function forgetUnfinished(ctx: StoreContext, ids: readonly string[]): Promise<void> {
  if (ids.length > 0) await ctx.redis.zrem(unfinishedJobsKey(ctx.prefix), ...ids);
}

/**
 * Of these queued jobs, those that have no BullMQ job of their own yet, rightly: still waiting
 * for their creator's BullMQ add (or for recovery), in a batch that was never committed, or
 * waiting for their tenant's fair share (or for their release's add). No one else may enqueue them.
 */
export async function creationUnsettled(
  ctx: StoreContext,
  jobs: readonly { id: string; batchId: string | null; tenant: string }[],
): Promise<Set<string>> {
  if (jobs.length === 0) return new Set();
  const batchIds = [...new Set(jobs.flatMap((job) => (job.batchId ? [job.batchId] : [])))];
  const pipeline = ctx.redis.pipeline();
  for (const job of jobs) pipeline.zscore(unenqueuedKey(ctx.prefix), job.id);
  for (const batchId of batchIds) pipeline.exists(batchKey(ctx.prefix, batchId));
  const answers = pipelineAnswers(await pipeline.exec());
  const uncommitted = new Set(batchIds.filter((_, i) => answers[jobs.length + i] === 0));
  const waiting = await waitingForShare(ctx, jobs);
  return new Set(
    jobs
      .filter(
        (job, i) =>
          answers[i] !== null || (job.batchId !== null && uncommitted.has(job.batchId)) || waiting.has(job.id),
      )
      .map((job) => job.id),
  );
}

/**
 * Crash recovery of job creation: jobs recorded whose BullMQ add was never confirmed (the
 * creating process died in between) are enqueued (with fair share, entered in their tenant's
 * ready set), or — in a batch that was never committed, whose caller got an error — dropped.
 * Adding a BullMQ job under an existing id is a no-op, entering a job twice enters it once,
 * and a worker ignores jobs whose record is already final, so this is safe to run at any time.
 */
import { QUEUE_NAMES } from '../queues.js';
import { batchKey, jobKey, tenantBacklogKey, tenantSpendKey, unenqueuedKey, unfinishedJobsKey } from '../redis/keys.js';
import { enterFairQueue } from './fair-share.js';
import { readJob } from './job-reads.js';
import { spendPeriodsAt } from './spend.js';
import { isFinal } from './stage.js';
import type { StoreContext } from './store-context.js';

/** Handles jobs recorded more than `olderThanMs` ago and never confirmed. Returns how many. */
export async function recoverUnenqueued(ctx: StoreContext, olderThanMs: number): Promise<number> {
  const { redis, prefix, queue } = ctx;
  const cutoff = Date.now() - olderThanMs;
  const ids = await redis.zrangebyscore(unenqueuedKey(prefix), '-inf', cutoff, 'LIMIT', 0, 1000);
  for (const id of ids) {
    const record = await readJob(ctx, id);
    if (record?.batch_id && !(await redis.exists(batchKey(prefix, record.batch_id)))) {
      // The batch was never committed: its caller got an error, so the job must not run.
      await redis.renderqDropUncommittedJob(
        jobKey(prefix, id),
        unfinishedJobsKey(prefix),
        tenantBacklogKey(prefix, record.tenant),
        tenantSpendKey(prefix, record.tenant),
        id,
        spendPeriodsAt(Date.now()).day,
      );
    } else if (record && !isFinal(record.stage.name)) {
      if (ctx.fairShare) await enterFairQueue(ctx, [record]);
      else await queue.add(QUEUE_NAMES.render, { jobId: id }, { jobId: id, priority: record.priority });
    }
    await redis.zrem(unenqueuedKey(prefix), id);
  }
  return ids.length;
}

/**
 * The last line of "never lose a job": a job whose record says it is being
 * worked on (submitting, polling, storing) but that has not moved for a while is
 * checked against BullMQ. If its BullMQ job is gone or finished — a Redis restart
 * or a failover at the wrong moment can do that — it is queued again; the steps
 * are safe to run twice, and a job found mid-submit goes through the
 * ambiguous-submit policy. One worker at a time does this (a Redis lock).
 */
import type { JobStore, Logger } from '@renderq/shared';
import { isFinal, QUEUE_NAMES } from '@renderq/shared';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';

export interface ReconcilerOptions {
  readonly redis: Redis;
  readonly prefix: string;
  readonly store: JobStore;
  readonly renderQueue: Queue;
  readonly pollQueue: Queue;
  readonly logger: Logger;
  /** A working job that has not moved for this long is checked. */
  readonly staleMs: number;
}

const LIVE_STATES = new Set(['active', 'waiting', 'waiting-children', 'delayed', 'prioritized']);

export function reconcileStuckJobs(options: ReconcilerOptions): { stop(): void; runOnce(): Promise<number> } {
  const { redis, store, logger, staleMs } = options;
  const lockKey = `${options.prefix}:reconciler`;
  const periodMs = Math.max(1_000, Math.round(staleMs / 2));

  const runOnce = async (): Promise<number> => {
    if ((await redis.set(lockKey, String(process.pid), 'PX', periodMs, 'NX')) !== 'OK') return 0;
    let requeued = 0;
    for (const id of await store.staleWorkingJobs(staleMs)) {
      const record = await store.get(id);
      if (!record || isFinal(record.stage.name)) {
        await store.forgetWorking(id);
        continue;
      }
      const submitting = record.stage.name === 'submitting';
      const queue = submitting ? options.renderQueue : options.pollQueue;
      const job = await queue.getJob(id);
      const state = job ? await job.getState() : 'missing';
      if (!LIVE_STATES.has(state)) {
        await job?.remove().catch(() => undefined);
        await queue.add(
          submitting ? QUEUE_NAMES.render : 'poll',
          { jobId: id },
          { jobId: id, priority: record.priority },
        );
        logger.warn(
          { job_id: id, model: record.model, stage: record.stage.name, bullmq_state: state },
          're-queued a working job whose BullMQ job was lost',
        );
        requeued++;
      } else if (state === 'delayed' && job && job.timestamp + job.delay < Date.now() - staleMs) {
        await job.promote();
        logger.warn({ job_id: id, stage: record.stage.name }, 'promoted a delayed job long past its time');
        requeued++;
      }
      await store.touchWorking(id);
    }
    return requeued;
  };

  const timer = setInterval(() => {
    runOnce().catch((error: unknown) => logger.warn({ err: error }, 'reconciling working jobs failed'));
  }, periodMs);
  return { stop: () => clearInterval(timer), runOnce };
}

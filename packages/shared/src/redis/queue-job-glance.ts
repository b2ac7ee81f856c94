/**
 * What a BullMQ job's own keys show at a glance, read for many jobs in one pipeline
 * instead of BullMQ's per-job `getJob` and `getState` (a few round trips each): enough to
 * tell a live job from one that is gone or finished, and when a delayed one is due. The
 * reconciler looks closer only at the few this does not clear.
 */
import type { Queue } from 'bullmq';
import type { ChainableCommander } from 'ioredis';

/** `missing`: no job hash (removed, drained); `finished`: completed or failed; `present`: anything live. */
type QueueJobPresence = 'missing' | 'finished' | 'present';

export interface QueueJobGlance {
  readonly presence: QueueJobPresence;
  /** When a delayed job is due (ms since the epoch); null when it is not delayed. */
  readonly dueAt: number | null;
}

/** BullMQ scores a delayed job by its due time × 4096 plus a counter that orders equal times. */
const DELAYED_SCORE_FACTOR = 0x1000;

/** Adds the two commands that glance at `id` on `queue`; `readQueueJobGlance` reads their answers. */
export function glanceAtQueueJob(pipeline: ChainableCommander, queue: Queue, id: string): void {
  // Every BullMQ job hash has `timestamp`; `finishedOn` is set only once it completed or failed.
  pipeline.hmget(queue.toKey(id), 'timestamp', 'finishedOn');
  pipeline.zscore(queue.keys.delayed as string, id);
}

export function readQueueJobGlance(hash: unknown, delayedScore: unknown): QueueJobGlance {
  const [timestamp, finishedOn] = (hash ?? []) as (string | null)[];
  const presence: QueueJobPresence = !timestamp ? 'missing' : finishedOn ? 'finished' : 'present';
  const score = typeof delayedScore === 'string' ? Number(delayedScore) : Number.NaN;
  return { presence, dueAt: Number.isFinite(score) ? Math.floor(score / DELAYED_SCORE_FACTOR) : null };
}

/** The answers of a pipeline, throwing the first command's error. */
export function pipelineAnswers(results: [Error | null, unknown][] | null): unknown[] {
  return (results ?? []).map(([error, value]) => {
    if (error) throw error;
    return value;
  });
}

/**
 * Queue depths as the metrics show them: every BullMQ state's count per queue, and the
 * jobs a worker could take now — the autoscaling signal (renderq_queue_ready_jobs).
 *
 * "Ready" is waiting + prioritized + delayed jobs whose time has come. A poll job delayed
 * until its next turn is a request waiting at Segmind, not work for a worker: counting
 * it would scale workers on Segmind's latency. The generic Redis list scaler that reads
 * only `:wait` misses prioritized and due-delayed jobs; this reads all three.
 */
import type { Queue } from 'bullmq';
import { QUEUE_NAMES } from '../queues.js';
import type { QueueCounts } from './metric-sources.js';

/**
 * Jobs in `queue` a worker could take at `now` (ms). BullMQ scores a delayed job
 * `timestamp × 0x1000 + n` and promotes those scored up to `(now + 1) × 0x1000 − 1`, that
 * is scheduled at or before `now`; `getDelayedCount(t)` counts those scheduled before t.
 */
export async function readyJobCount(queue: Queue, now: number = Date.now()): Promise<number> {
  const [counts, dueDelayed] = await Promise.all([
    queue.getJobCounts('waiting', 'prioritized'),
    queue.getDelayedCount(now + 1),
  ]);
  return (counts.waiting ?? 0) + (counts.prioritized ?? 0) + dueDelayed;
}

/**
 * Every state's count and the ready count of each queue, for `createMetrics`' `queueCounts`. Jobs
 * waiting for their tenant's fair share (`waitingForShare`) are the render queue's too: counted as
 * state `fair_share` and as ready, since a worker takes them as soon as it has room.
 */
export function readQueueDepths(
  queues: readonly Queue[],
  waitingForShare?: () => Promise<number>,
): Promise<QueueCounts[]> {
  return Promise.all(
    queues.map(async (queue) => {
      const share = queue.name === QUEUE_NAMES.render ? waitingForShare : undefined;
      const [counts, ready, waiting] = await Promise.all([
        queue.getJobCounts(),
        readyJobCount(queue),
        share ? share() : undefined,
      ]);
      if (waiting === undefined) return { queue: queue.name, counts, ready };
      return { queue: queue.name, counts: { ...counts, fair_share: waiting }, ready: ready + waiting };
    }),
  );
}

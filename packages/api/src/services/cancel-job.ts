/** Cancelling one job, for the job and batch cancel routes alike. */
import type { JobRecord, TransitionResult } from '@renderq/shared';
import type { ApiContext } from '../api-context.js';

/**
 * Moves a job not yet finished to cancelled. A waiting job also leaves the queue at
 * once; one in a worker's hands stops at its next step (a request already at
 * Segmind finishes there, and its result is discarded).
 */
export async function cancelJob(ctx: ApiContext, record: JobRecord): Promise<TransitionResult> {
  const { id, model } = record;
  const moved = await ctx.store.transition(record, 'cancel', { name: 'cancelled' });
  if (moved.ok) {
    ctx.metrics.jobsFinished.inc({ model, status: 'cancelled' });
    await ctx.renderQueue.remove(id).catch(() => undefined);
  }
  return moved;
}

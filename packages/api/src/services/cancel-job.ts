/** Cancelling one job, for the job and batch cancel routes alike. */
import { type TransitionResult, UNFINISHED_STAGES } from '@renderq/shared';
import type { ApiContext } from '../api-context.js';

/**
 * Moves a job not yet finished to cancelled. A waiting job also leaves the queue at
 * once; one in a worker's hands stops at its next step (a request already at
 * Segmind finishes there, and its result is discarded).
 */
export async function cancelJob(ctx: ApiContext, id: string, model: string): Promise<TransitionResult> {
  const moved = await ctx.store.transition(id, UNFINISHED_STAGES, { name: 'cancelled' });
  if (moved.ok) {
    ctx.metrics.jobsFinished.inc({ model, status: 'cancelled' });
    await ctx.renderQueue.remove(id).catch(() => undefined);
  }
  return moved;
}

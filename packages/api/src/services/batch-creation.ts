/**
 * Records an accepted batch whose inline images are already stored (storeBatchInputs):
 * the batch and its jobs are created all or none, and their enqueueing goes on after the
 * answer, under ctx.background so that shutdown waits for it.
 */
import type { BatchRecord, NewBatch, NewJob } from '@renderq/shared';
import type { FastifyBaseLogger } from 'fastify';
import type { ApiContext } from '../api-context.js';
import { withStoredInputs } from './stored-inputs.js';

export interface RecordedBatch {
  readonly batch: BatchRecord;
  /** In the order the jobs were given. */
  readonly jobIds: readonly string[];
}

export async function recordBatch(
  ctx: ApiContext,
  log: FastifyBaseLogger,
  batch: NewBatch,
  jobs: readonly NewJob[],
): Promise<RecordedBatch> {
  const stored = jobs.flatMap((job) => job.inputs ?? []);
  const created = await withStoredInputs(ctx, stored, () => ctx.store.createBatch(batch, jobs));
  // Accepted once recorded; a job not enqueued here is enqueued by the workers' recovery.
  const background = created.enqueued.catch((error: unknown) =>
    log.warn({ err: error, batch_id: created.batch.id }, 'enqueueing a batch failed; recovery will finish it'),
  );
  ctx.background.add(background);
  void background.finally(() => ctx.background.delete(background));
  for (const job of jobs) ctx.metrics.jobsEnqueued.inc({ model: job.model });
  return { batch: created.batch, jobIds: created.jobIds };
}

/**
 * Input images sent inline, stored when a job is accepted (never for a request that
 * is refused: callers store only after validation and the rate check). The job's
 * record then holds a link and a digest instead of the bytes. A storage outage is a
 * 503 to retry; what a failed request had stored is removed again, unless Redis
 * stopped answering (the job may exist after all, and needs its inputs).
 */
import {
  deleteStoredInputs,
  findModel,
  inlineImages,
  isRedisUnavailable,
  type NewJob,
  newId,
  type StoredInput,
  storeInputImages,
  withoutStoredFields,
} from '@renderq/shared';
import type { ApiContext } from '../api-context.js';
import { RetryLaterProblem } from '../http/problems.js';

const STORAGE_RETRY_AFTER_SECONDS = 5;

export interface JobInputs {
  /** The input without the stored fields. */
  readonly input: Record<string, unknown>;
  readonly inputs: StoredInput[];
}

/** Stores the inline images of job `jobId`'s validated input under its id. */
export async function storeJobInputs(
  ctx: ApiContext,
  jobId: string,
  model: string,
  input: Record<string, unknown>,
): Promise<JobInputs> {
  const images = inlineImages(findModel(model)?.imageFields ?? [], input);
  if (images.length === 0) return { input, inputs: [] };
  try {
    const inputs = await storeInputImages(ctx.storage, jobId, images);
    return { input: withoutStoredFields(input, inputs), inputs };
  } catch (error) {
    ctx.logger.warn({ err: error, job_id: jobId }, 'storing an input image failed');
    throw new RetryLaterProblem(
      'service_unavailable',
      'the input image could not be stored just now; nothing was enqueued: retry',
      STORAGE_RETRY_AFTER_SECONDS,
    );
  }
}

/** How many jobs of a batch have their images stored at once. */
const BATCH_STORE_CONCURRENCY = 4;

/**
 * Stores the inline images of every job of an accepted batch, a few jobs at a time; a
 * job with images gets its id now, to store them under. All or none: a failure removes
 * what was stored.
 */
export async function storeBatchInputs(ctx: ApiContext, jobs: readonly NewJob[]): Promise<NewJob[]> {
  const prepared = [...jobs];
  const stored: StoredInput[] = [];
  let next = 0;
  const work = async (): Promise<void> => {
    while (next < jobs.length) {
      const index = next++;
      const job = jobs[index] as NewJob;
      const id = newId('job');
      const { input, inputs } = await storeJobInputs(ctx, id, job.model, job.input);
      if (inputs.length === 0) continue;
      stored.push(...inputs);
      prepared[index] = { ...job, id, input, inputs };
    }
  };
  const outcomes = await Promise.allSettled(
    Array.from({ length: Math.min(BATCH_STORE_CONCURRENCY, jobs.length) }, async () => {
      try {
        await work();
      } catch (error) {
        // The others stop at their next job; once all have stopped, what they stored goes too.
        next = jobs.length;
        throw error;
      }
    }),
  );
  const failed = outcomes.find((outcome) => outcome.status === 'rejected');
  if (failed) {
    await deleteStoredInputs(ctx.storage, stored);
    throw failed.reason;
  }
  return prepared;
}

/** Runs `create` with inputs already stored, removing them again if it fails for good. */
export async function withStoredInputs<T>(
  ctx: ApiContext,
  inputs: readonly StoredInput[],
  create: () => Promise<T>,
): Promise<T> {
  try {
    return await create();
  } catch (error) {
    if (inputs.length > 0 && !isRedisUnavailable(error)) await deleteStoredInputs(ctx.storage, inputs);
    throw error;
  }
}

/** The public shapes of jobs and batches, typed as the API's response schemas. */
import {
  type BatchRecord,
  type JobRecord,
  type OutputLinks,
  type PublicBatch,
  publicBatch,
  publicJob,
} from '@renderq/shared';
import type { z } from 'zod';
import type { Job } from '../http/schemas.js';

export type JobView = z.infer<typeof Job>;

export async function jobView(record: JobRecord, links: OutputLinks): Promise<JobView> {
  // The same shape as the shared PublicJob, whose arrays are readonly.
  return (await publicJob(record, links)) as JobView;
}

export function batchView(batch: BatchRecord): PublicBatch {
  return publicBatch(batch);
}

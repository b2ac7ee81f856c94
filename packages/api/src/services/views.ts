/** The public job, typed as the API's response schema (batches need no such typing: see publicBatch). */
import { type JobRecord, type OutputLinks, publicJob } from '@renderq/shared';
import type { z } from 'zod';
import type { Job } from '../http/schemas.js';

export type JobView = z.infer<typeof Job>;

export async function jobView(record: JobRecord, links: OutputLinks): Promise<JobView> {
  // The same shape as the shared PublicJob, whose arrays are readonly.
  return (await publicJob(record, links)) as JobView;
}

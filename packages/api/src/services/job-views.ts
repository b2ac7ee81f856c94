/** A job as the API shows it: the public job with its key-free links and, until it finishes, where it stands. */
import { type JobRecord, type PublicJob, publicJob } from '@renderq/shared';
import type { ApiContext } from '../api-context.js';

export async function jobView(ctx: ApiContext, record: JobRecord): Promise<PublicJob> {
  const [estimate] = await ctx.estimates.of([record]);
  return publicJob(record, ctx.links, estimate);
}

/** Many jobs at once (a page): their places are read in one round trip. */
export async function jobViews(ctx: ApiContext, records: readonly JobRecord[]): Promise<PublicJob[]> {
  const estimates = await ctx.estimates.of(records);
  return Promise.all(records.map((record, i) => publicJob(record, ctx.links, estimates[i])));
}

/** A tenant's own jobs and batches: anything else, another tenant's included, is a 404 that says nothing of it. */
import type { BatchRecord, JobRecord } from '@renderq/shared';
import type { ApiContext } from '../api-context.js';
import { Problem } from '../http/problems.js';

export async function ownJob(ctx: ApiContext, tenant: string, id: string): Promise<JobRecord> {
  const record = await ctx.store.getOwned(tenant, id);
  if (!record) throw new Problem('not_found', `no job ${id}`);
  return record;
}

export async function ownBatch(ctx: ApiContext, tenant: string, id: string): Promise<BatchRecord> {
  const batch = await ctx.store.getBatchOwned(tenant, id);
  if (!batch) throw new Problem('not_found', `no batch ${id}`);
  return batch;
}

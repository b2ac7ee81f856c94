/**
 * A tenant's own jobs and batches: anything else, another tenant's included, is a 404 that says
 * nothing of it. Without a key, a signed link (a download, an event stream) proves access to the one
 * job or batch it names.
 */
import type { BatchRecord, JobRecord } from '@renderq/shared';
import type { FastifyRequest } from 'fastify';
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

/** The job a link names: the tenant's own, or any job when the link's signature proves access. */
export async function linkedJob(
  ctx: ApiContext,
  request: FastifyRequest,
  id: string,
  signed: () => boolean,
): Promise<JobRecord> {
  if (request.tenant) return ownJob(ctx, request.tenant, id);
  const record = signed() ? await ctx.store.get(id) : undefined;
  if (!record) throw new Problem('unauthorized', 'the link is not valid or has expired');
  return record;
}

/** The batch a link names, as linkedJob. */
export async function linkedBatch(
  ctx: ApiContext,
  request: FastifyRequest,
  id: string,
  signed: () => boolean,
): Promise<BatchRecord> {
  if (request.tenant) return ownBatch(ctx, request.tenant, id);
  const batch = signed() ? await ctx.store.getBatch(id) : undefined;
  if (!batch) throw new Problem('unauthorized', 'the link is not valid or has expired');
  return batch;
}

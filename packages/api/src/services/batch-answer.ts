/**
 * The 202 answer to a batch's creation: the batch with each job's id by its index in the
 * request. It lists up to 10,000 ids, so under an Idempotency-Key the batch as first answered
 * is kept (24 h) without them, and a replay reads them again from the batch (they never change).
 */
import { type BatchRecord, type PublicBatch, publicBatch } from '@renderq/shared';
import type { ApiContext } from '../api-context.js';
import type { IdempotentCreation } from './idempotent-request.js';

export function createdBatch(ctx: ApiContext, batch: BatchRecord, jobIds: readonly string[]) {
  return withJobIds(publicBatch(batch, ctx.links), jobIds);
}

/** The answer for batch `id` if it was created (and is the tenant's): an Idempotency-Key's claim named it. */
export async function madeBatch(ctx: ApiContext, tenant: string, id: string) {
  const batch = await ctx.store.getBatchOwned(tenant, id);
  return batch && createdBatch(ctx, batch, await ctx.store.batchJobIds(id, 0, batch.counts.total));
}

export function compactBatchAnswer(ctx: ApiContext): NonNullable<IdempotentCreation['compact']> {
  return {
    keep: (body) => ({ ...(body as PublicBatch), jobs: undefined }),
    restore: async (kept, id) => {
      // As first answered, links included (a replay says what the first answer said; read the batch for fresh ones).
      const batch = kept as PublicBatch;
      return withJobIds(batch, await ctx.store.batchJobIds(id, 0, batch.counts.total));
    },
  };
}

function withJobIds(batch: PublicBatch, jobIds: readonly string[]) {
  return { ...batch, jobs: jobIds.map((id, index) => ({ index, id })) };
}

/**
 * Each tenant's backlog quota: at most so many unfinished jobs (queued or running). A request
 * claims room for its jobs before anything of it is stored (claim-backlog-2.lua, one script
 * call, so concurrent API processes never admit more than the quota); recording the jobs turns
 * the claim into counted jobs (create-jobs-n.lua), and a job's first final move takes it off
 * the count (transition-job-6-or-9.lua). What a request claimed and did not record is let go
 * when it ends, or lapses after CLAIM_TTL_MS should its process die first.
 */
import { randomUUID } from 'node:crypto';
import { backlogClaimsKey, tenantBacklogKey } from '../redis/keys.js';
import type { StoreContext } from './store-context.js';

/** Longer than any request's creation takes (a 10,000-job batch records in seconds). */
const CLAIM_TTL_MS = 10 * 60_000;

export type BacklogClaim =
  | { readonly admitted: true; readonly id: string; readonly held: number }
  /** `held`: the tenant's unfinished jobs and open claims, which left no room. */
  | { readonly admitted: false; readonly held: number };

/** Claims room for `jobs` more of `tenant`'s jobs under `quota` (0: no quota, always admitted). */
export async function claimBacklog(
  ctx: StoreContext,
  tenant: string,
  jobs: number,
  quota: number,
): Promise<BacklogClaim> {
  const id = randomUUID();
  const answer = ctx.redis.renderqClaimBacklog(
    tenantBacklogKey(ctx.prefix),
    backlogClaimsKey(ctx.prefix),
    tenant,
    String(jobs),
    String(quota),
    id,
    String(CLAIM_TTL_MS),
  );
  let admitted: number;
  let held: number;
  try {
    [admitted, held] = await answer;
  } catch (error) {
    // The script may still run after a timeout: commands on a connection run in order, so this
    // lands after it and the room is not held for the claim's whole life.
    await releaseBacklogClaim(ctx, id).catch(() => undefined);
    throw error;
  }
  return admitted === 1 ? { admitted: true, id, held } : { admitted: false, held };
}

/** Lets go of what a claim holds and was not recorded (nothing, once every job it admitted is). */
export async function releaseBacklogClaim(ctx: StoreContext, id: string): Promise<void> {
  await ctx.redis.hdel(backlogClaimsKey(ctx.prefix), id);
}

/** A tenant's unfinished jobs, as its quota counts them. */
export async function unfinishedJobsOf(ctx: StoreContext, tenant: string): Promise<number> {
  return Number(await ctx.redis.hget(tenantBacklogKey(ctx.prefix), tenant)) || 0;
}

/** Every tenant's unfinished jobs, as their quotas count them (tenants with none may be left out). */
export async function unfinishedJobsByTenant(ctx: StoreContext): Promise<Map<string, number>> {
  const counts = await ctx.redis.hgetall(tenantBacklogKey(ctx.prefix));
  return new Map(Object.entries(counts).map(([tenant, count]) => [tenant, Number(count) || 0]));
}

/**
 * Each tenant's backlog, which its quota counts: its unfinished jobs (queued or running), kept as
 * the set of their ids (tenantBacklogKey). A request claims room for its jobs before anything of it
 * is stored (admission.ts); recording the jobs moves them from the claim into the set
 * (create-jobs-n.lua), and a job's final move takes it out (transition-job-10-or-14.lua). A job
 * that left the unfinished jobs some other way (finished by a worker of a version before quotas,
 * its record lost) is taken out by `tidyBacklogs`, which the reconciler runs.
 */
import { backlogTenantsKey, tenantBacklogKey, unfinishedJobsKey } from '../redis/keys.js';
import type { StoreContext } from './store-context.js';

/** A tenant's unfinished jobs, as its quota counts them. */
export function unfinishedJobsOf(ctx: StoreContext, tenant: string): Promise<number> {
  return ctx.redis.zcard(tenantBacklogKey(ctx.prefix, tenant));
}

/** Every tenant's unfinished jobs, as their quotas count them (each tenant that has had a backlog). */
export async function unfinishedJobsByTenant(ctx: StoreContext): Promise<Map<string, number>> {
  const tenants = await ctx.redis.smembers(backlogTenantsKey(ctx.prefix));
  const pipeline = ctx.redis.pipeline();
  for (const tenant of tenants) pipeline.zcard(tenantBacklogKey(ctx.prefix, tenant));
  const answers = (await pipeline.exec()) ?? [];
  return new Map(tenants.map((tenant, i) => [tenant, Number(answers[i]?.[1]) || 0]));
}

/**
 * Takes out of the tenants' backlogs the jobs no longer among the unfinished jobs: what a worker
 * of an earlier version finished, or a job whose record was lost. Race-free: a job joins and leaves
 * both together. At most `maxChecks` jobs a call, the oldest first; returns how many it took out.
 */
export async function tidyBacklogs(ctx: StoreContext, maxChecks = 5_000, pageSize = 1_000): Promise<number> {
  const { redis, prefix } = ctx;
  const unfinished = unfinishedJobsKey(prefix);
  let checked = 0;
  let removed = 0;
  const tenants = await redis.smembers(backlogTenantsKey(prefix));
  // From a tenant drawn at random, so that large backlogs early in the list do not keep the rest unchecked.
  const from = Math.floor(Math.random() * tenants.length);
  for (const tenant of [...tenants.slice(from), ...tenants.slice(0, from)]) {
    const key = tenantBacklogKey(prefix, tenant);
    for (let start = 0; checked < maxChecks; start += pageSize) {
      const ids = await redis.zrange(key, String(start), String(start + pageSize - 1));
      if (ids.length === 0) break;
      checked += ids.length;
      const pipeline = redis.pipeline();
      for (const id of ids) pipeline.zscore(unfinished, id);
      const scores = (await pipeline.exec()) ?? [];
      const gone = ids.filter((_, i) => scores[i]?.[1] === null);
      if (gone.length > 0) {
        removed += await redis.zrem(key, ...gone);
        start -= gone.length;
      }
      if (ids.length < pageSize) break;
    }
  }
  return removed;
}

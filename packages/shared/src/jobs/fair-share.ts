/**
 * Fair share between tenants: jobs wait in their tenant's ready set, not on the render queue,
 * and are released to it just in time, a few ahead of the submit budget, in stride-scheduling
 * order (release-fair-share-n.lua). While several tenants have work waiting each is given
 * submits in proportion to its weight, however many jobs, batches or keys it has; a tenant alone
 * is given them all. `priority` and single-before-batch order only order a tenant's own jobs.
 *
 * Every step is one script call or safe to repeat, so a process may die between any two:
 * recorded jobs wait among the unenqueued until they enter their tenant's ready set (recovery
 * enters them); a released job waits in the released outbox until its BullMQ add is confirmed
 * (recovery adds it, and adding under an existing id is a no-op).
 */
import { QUEUE_NAMES } from '../queues.js';
import {
  backlogTenantsKey,
  fairPassesKey,
  fairReadyKey,
  fairReleasedKey,
  fairStateKey,
  fairTenantsKey,
  unenqueuedKey,
  unfinishedJobsKey,
} from '../redis/keys.js';
import { pipelineAnswers } from '../redis/queue-job-glance.js';
import type { StoreContext } from './store-context.js';

/** What entering a job needs of its record. */
export interface FairEntry {
  readonly id: string;
  readonly tenant: string;
  readonly priority: number;
}

/** A tenant's weight; 1 unless an operator gave it another. */
export type WeightOf = (tenant: string) => number;

/** Moves recorded jobs from the unenqueued jobs into their tenants' ready sets; how many moved. */
export async function enterFairQueue(ctx: StoreContext, jobs: readonly FairEntry[]): Promise<number> {
  if (jobs.length === 0) return 0;
  const { redis, prefix } = ctx;
  const keys = [
    unenqueuedKey(prefix),
    unfinishedJobsKey(prefix),
    fairTenantsKey(prefix),
    fairStateKey(prefix),
    fairPassesKey(prefix),
  ];
  return redis.renderqEnterFairQueue(
    keys.length + jobs.length,
    ...keys,
    ...jobs.map((job) => fairReadyKey(prefix, job.tenant)),
    ...jobs.map((job) => JSON.stringify([job.id, job.tenant, String(job.priority)])),
  );
}

/**
 * Releases jobs in fair-share order onto the render queue until it holds `ahead` jobs not yet
 * submitted (waiting, or held by a worker), and returns their ids. Each call serves at most
 * `ahead` tenants (it names the lowest passes it saw); it may stop early when another tenant's
 * turn comes first, which the next call serves.
 */
export async function releaseFairShare(ctx: StoreContext, ahead: number, weightOf: WeightOf): Promise<string[]> {
  const { redis, prefix, queue } = ctx;
  const tenants = await redis.zrange(fairTenantsKey(prefix), 0, String(ahead - 1));
  if (tenants.length === 0) return [];
  const keys = [
    fairTenantsKey(prefix),
    fairStateKey(prefix),
    fairReleasedKey(prefix),
    fairPassesKey(prefix),
    queue.keys.wait as string,
    queue.keys.active as string,
    queue.keys.prioritized as string,
  ];
  const ids = await redis.renderqReleaseFairShare(
    keys.length + tenants.length,
    ...keys,
    ...tenants.map((tenant) => fairReadyKey(prefix, tenant)),
    String(Date.now()),
    String(ahead),
    ...tenants.flatMap((tenant) => [tenant, String(weightOf(tenant))]),
  );
  await addReleased(ctx, ids);
  return ids;
}

/** Adds released jobs to the render queue and confirms them (an add under an existing id adds nothing). */
async function addReleased(ctx: StoreContext, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  // No BullMQ priority: the order of release is the order of service.
  await ctx.queue.addBulk(ids.map((id) => ({ name: QUEUE_NAMES.render, data: { jobId: id }, opts: { jobId: id } })));
  await ctx.redis.zrem(fairReleasedKey(ctx.prefix), ...ids);
}

/**
 * Adds to the render queue the jobs released more than `olderThanMs` ago whose add was never
 * confirmed (the releaser died, or Redis failed the add). Until then they count as held by the
 * render queue, so the release loop runs this every few seconds.
 */
export async function recoverReleased(ctx: StoreContext, olderThanMs: number): Promise<number> {
  const { redis, prefix } = ctx;
  const ids = await redis.zrangebyscore(fairReleasedKey(prefix), '-inf', Date.now() - olderThanMs, 'LIMIT', 0, 1000);
  await addReleased(ctx, ids);
  return ids.length;
}

/**
 * Puts back among the tenants being served any tenant with jobs waiting that is missing from them
 * (the scripts keep the two together; this heals what they cannot, such as a key deleted by hand),
 * and forgets passes the clock has gone past. Run by the reconciler; returns the tenants put back.
 */
export async function healFairShare(ctx: StoreContext): Promise<number> {
  const { redis, prefix } = ctx;
  const tenants = await redis.smembers(backlogTenantsKey(prefix));
  const pipeline = redis.pipeline();
  for (const tenant of tenants) {
    pipeline.zcard(fairReadyKey(prefix, tenant));
    pipeline.zscore(fairTenantsKey(prefix), tenant);
  }
  pipeline.hget(fairStateKey(prefix), 'vtime');
  pipeline.hgetall(fairPassesKey(prefix));
  const answers = pipelineAnswers(await pipeline.exec());
  const vtime = String(answers[2 * tenants.length] ?? '0');
  const passes = (answers[2 * tenants.length + 1] ?? {}) as Record<string, string>;
  const missing = tenants.filter((_, i) => Number(answers[2 * i]) > 0 && answers[2 * i + 1] === null);
  const passed = Object.keys(passes).filter((tenant) => Number(passes[tenant]) <= Number(vtime));
  const fix = redis.pipeline();
  for (const tenant of missing) fix.zadd(fairTenantsKey(prefix), 'NX', vtime, tenant);
  if (passed.length > 0) fix.hdel(fairPassesKey(prefix), ...passed);
  if (missing.length > 0 || passed.length > 0) await fix.exec();
  return missing.length;
}

/** Of these jobs, those waiting for their share or released and not yet confirmed: no BullMQ job is theirs yet. */
export async function waitingForShare(
  ctx: StoreContext,
  jobs: readonly { readonly id: string; readonly tenant: string }[],
): Promise<Set<string>> {
  if (jobs.length === 0) return new Set();
  const pipeline = ctx.redis.pipeline();
  for (const job of jobs) {
    pipeline.zscore(fairReadyKey(ctx.prefix, job.tenant), job.id);
    pipeline.zscore(fairReleasedKey(ctx.prefix), job.id);
  }
  const answers = pipelineAnswers(await pipeline.exec());
  return new Set(jobs.filter((_, i) => answers[2 * i] !== null || answers[2 * i + 1] !== null).map((job) => job.id));
}

/** A tenant waiting for its share: how many of its jobs wait, and its virtual pass. */
export interface FairTenant {
  readonly tenant: string;
  readonly waiting: number;
  readonly pass: number;
}

/** The tenants with jobs waiting for their share, lowest pass (next served) first; at most `most`. */
export async function fairTenants(ctx: StoreContext, most = 1_000): Promise<FairTenant[]> {
  const { redis, prefix } = ctx;
  const flat = await redis.zrange(fairTenantsKey(prefix), 0, String(most - 1), 'WITHSCORES');
  const tenants: { tenant: string; pass: number }[] = [];
  for (let i = 0; i < flat.length; i += 2) tenants.push({ tenant: flat[i] as string, pass: Number(flat[i + 1]) });
  if (tenants.length === 0) return [];
  const pipeline = redis.pipeline();
  for (const { tenant } of tenants) pipeline.zcard(fairReadyKey(prefix, tenant));
  const counts = pipelineAnswers(await pipeline.exec());
  return tenants.map((t, i) => ({ ...t, waiting: Number(counts[i]) || 0 }));
}

/** How many jobs wait for their tenants' shares, all tenants together. */
export async function waitingJobs(ctx: StoreContext): Promise<number> {
  return (await fairTenants(ctx, 100_000)).reduce((sum, t) => sum + t.waiting, 0);
}

/** How many of a tenant's jobs wait for its share (not yet on the render queue). */
export function waitingJobsOf(ctx: StoreContext, tenant: string): Promise<number> {
  return ctx.redis.zcard(fairReadyKey(ctx.prefix, tenant));
}

/** Each tenant's weight from TENANT_WEIGHTS (a map without a prototype); 1 for a tenant it does not name. */
export function weightsOf(weights: Readonly<Record<string, number>>): WeightOf {
  return (tenant) => (Object.hasOwn(weights, tenant) ? (weights[tenant] as number) : 1);
}

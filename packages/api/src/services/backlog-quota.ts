/**
 * Each tenant's backlog quota at the door: a job or a whole batch is admitted only while the
 * tenant's unfinished jobs leave room for all of it, before anything of the request is stored
 * (the job store's claim, shared by every API process); the claim is let go when the request ends.
 */
import type { ApiContext } from '../api-context.js';
import { Problem, RetryLaterProblem } from '../http/problems.js';

/** Jobs finish at Segmind's pace: a refused caller should wait a while, not hammer. */
const RETRY_AFTER_SECONDS = 30;

/** The quota that applies to `tenant` (0: none). */
export function backlogQuotaOf(ctx: ApiContext, tenant: string): number {
  const { perTenant, tenants } = ctx.config.api.backlogQuota;
  return Object.hasOwn(tenants, tenant) ? (tenants[tenant] as number) : perTenant;
}

/**
 * Runs `create` with room claimed for `jobs` of the tenant's jobs (the claim id is handed to the
 * records), or throws a 429 naming the quota, the tenant's count and when to retry.
 */
export async function withBacklogRoom<T>(
  ctx: ApiContext,
  tenant: string,
  jobs: number,
  create: (claim: string | undefined) => Promise<T>,
): Promise<T> {
  const quota = backlogQuotaOf(ctx, tenant);
  if (quota === 0) return create(undefined);
  if (jobs > quota) {
    throw new Problem(
      'validation_failed',
      `the batch's ${jobs} jobs are more than tenant ${tenant}'s backlog quota of ${quota} unfinished jobs: split it`,
    );
  }
  const claim = await ctx.store.claimBacklog(tenant, jobs, quota);
  if (!claim.admitted) {
    ctx.metrics.requestsRefused.inc({ reason: 'backlog_quota' });
    throw new RetryLaterProblem(
      'too_many_requests',
      `tenant ${tenant} has ${claim.held} unfinished jobs (queued, running or being created) and may have at ` +
        `most ${quota}: this request adds ${jobs}; retry in ${RETRY_AFTER_SECONDS} s, once some have finished`,
      RETRY_AFTER_SECONDS,
    );
  }
  try {
    return await create(claim.id);
  } finally {
    await ctx.store.releaseBacklogClaim(claim.id).catch(() => {
      // Left to lapse at its deadline: it holds room only until then.
    });
  }
}

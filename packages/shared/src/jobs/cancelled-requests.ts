/**
 * A cancelled job follows the request it had at Segmind until Segmind finishes it, so
 * that what Segmind charged for it is known: the job stays `cancelled` throughout, and
 * settling records its cost (on the job, its batch and its tenant's spend) without any
 * webhook event. The transition script starts following when a job is cancelled while
 * polling; follow-cancelled-2.lua starts it for a job cancelled during its submit and
 * records each poll; settle-cancelled-3-or-4.lua ends it.
 */

import { batchKey, jobKey, tenantSpendKey, unfinishedJobsKey } from '../redis/keys.js';
import type { CancelledRequest, JobRecord } from './job-record.js';
import { spendPeriodsAt } from './spend.js';
import type { StoreContext } from './store-context.js';

/**
 * Starts following, for its cost, a request a job was cancelled during (its submit
 * answered after the cancel), or records one more poll of it (`polls` grown, same
 * request). False when there is nothing to follow: the job is not cancelled, its cost
 * is known, or it follows another request (or, for a poll, none any more).
 */
export async function followCancelled(
  ctx: StoreContext,
  id: string,
  request: CancelledRequest,
  mode: 'start' | 'poll',
): Promise<boolean> {
  const done = await ctx.redis.renderqFollowCancelled(
    jobKey(ctx.prefix, id),
    unfinishedJobsKey(ctx.prefix),
    JSON.stringify(request),
    mode,
    String(Date.now()),
  );
  return done === 1;
}

/**
 * Records what Segmind charged for the request a cancelled job was following (null:
 * nothing known, the deadline passed) on the job and its batch, and stops following
 * it. False when it was settled already.
 */
export async function settleCancelled(
  ctx: StoreContext,
  record: JobRecord,
  requestId: string,
  cost: number | null,
): Promise<boolean> {
  const keys = [
    jobKey(ctx.prefix, record.id),
    unfinishedJobsKey(ctx.prefix),
    tenantSpendKey(ctx.prefix, record.tenant),
    ...(record.batch_id ? [batchKey(ctx.prefix, record.batch_id)] : []),
  ];
  const done = await ctx.redis.renderqSettleCancelled(
    keys.length,
    ...keys,
    requestId,
    cost === null ? '' : String(cost),
    spendPeriodsAt(Date.now()).day,
  );
  return done === 1;
}

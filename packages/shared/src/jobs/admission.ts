/**
 * Admitting a request's jobs before anything of it is stored: under its tenant's backlog quota
 * (at most so many unfinished jobs, kept by backlog.ts) and spend budgets (what its jobs reserve
 * against the day's and the month's cap, kept by spend.ts). One script call decides
 * (claim-admission-7.lua), so that concurrent API processes never admit past a quota, nor past a
 * budget by more than the price estimate's error. What it admits is held as a claim until recorded
 * (create-jobs-n.lua turns the claim into counted jobs and reservations); the request lets go of
 * what is left when it ends (endAdmission), and a claim whose process died lapses after
 * CLAIM_TTL_MS.
 */
import { randomUUID } from 'node:crypto';
import {
  backlogClaimsKey,
  eventKey,
  eventOutboxKey,
  pendingEventsKey,
  tenantBacklogKey,
  tenantSpendKey,
} from '../redis/keys.js';
import { budgetWarningEventId } from '../webhooks/events.js';
import type { StoreContext } from './store-context.js';

/** Longer than any request's creation takes (a 10,000-job batch records in seconds). */
const CLAIM_TTL_MS = 10 * 60_000;

export interface AdmissionRequest {
  readonly tenant: string;
  readonly jobs: number;
  /** The most unfinished jobs the tenant may have (0: no quota). */
  readonly quota: number;
  /** What the jobs reserve together, in millionths of a USD. */
  readonly reserveMicros: number;
  /** The UTC day (YYYY-MM-DD) the jobs' spend counts in. */
  readonly day: string;
  /** The day's and the month's caps in millionths of a USD (0: none). */
  readonly dailyBudgetMicros: number;
  readonly monthlyBudgetMicros: number;
  /** Where a budget warning this admission causes is sent (null: it causes none). */
  readonly warningUrl: string | null;
}

export type AdmissionClaim =
  | {
      readonly admitted: true;
      readonly id: string;
      /** The tenant's unfinished jobs and open claims, with these. */
      readonly held: number;
      /** The budget warnings it recorded, sent once its jobs are (endAdmission). */
      readonly warnings: readonly string[];
    }
  | {
      readonly admitted: false;
      readonly refusedBy: 'quota' | 'day' | 'month';
      readonly held: number;
      /** The refusing period's spend (reserved, settled and claimed), in millionths of a USD. */
      readonly spentMicros: number;
    };

export async function claimAdmission(ctx: StoreContext, request: AdmissionRequest): Promise<AdmissionClaim> {
  const { redis, prefix } = ctx;
  const id = randomUUID();
  const month = request.day.slice(0, 7);
  const dayEvent = budgetWarningEventId(request.tenant, request.day);
  const monthEvent = budgetWarningEventId(request.tenant, month);
  const now = new Date();
  const answer = redis.renderqClaimAdmission(
    tenantBacklogKey(prefix, request.tenant),
    backlogClaimsKey(prefix),
    tenantSpendKey(prefix, request.tenant),
    eventOutboxKey(prefix),
    pendingEventsKey(prefix),
    eventKey(prefix, dayEvent),
    eventKey(prefix, monthEvent),
    request.tenant,
    String(request.jobs),
    String(request.quota),
    id,
    String(CLAIM_TTL_MS),
    String(request.reserveMicros),
    request.day,
    String(request.dailyBudgetMicros),
    String(request.monthlyBudgetMicros),
    ctx.events ? (request.warningUrl ?? '') : '',
    now.toISOString(),
    String(ctx.retentionMs),
    dayEvent,
    monthEvent,
  );
  let result: Awaited<typeof answer>;
  try {
    result = await answer;
  } catch (error) {
    // The script may still run after a timeout: commands on a connection run in order, so this
    // lands after it and the room is not held for the claim's whole life.
    await redis.hdel(backlogClaimsKey(prefix), id).catch(() => undefined);
    throw error;
  }
  const [admitted, held, refusedBy, spent, warnings] = result;
  if (admitted === 1) return { admitted: true, id, held, warnings: warnings ? warnings.split(',') : [] };
  return { admitted: false, refusedBy: refusedBy as 'quota' | 'day' | 'month', held, spentMicros: spent };
}

/**
 * Ends an admitted request's claim: lets go of what it holds and was not recorded (nothing, once
 * every job it admitted is), and sends the budget warnings it recorded — or, when its jobs were not
 * recorded (the memory guard, the enqueue rate or storage refused them), withdraws them, so that the
 * crossing is warned of by a request that really adds to the spend.
 */
export async function endAdmission(
  ctx: StoreContext,
  request: Pick<AdmissionRequest, 'tenant' | 'day'>,
  claim: Extract<AdmissionClaim, { admitted: true }>,
  recorded: boolean,
): Promise<void> {
  const { redis, prefix } = ctx;
  if (recorded || claim.warnings.length === 0) {
    await redis.hdel(backlogClaimsKey(prefix), claim.id);
    if (claim.warnings.length > 0) await ctx.events?.publish(claim.warnings);
    return;
  }
  const month = request.day.slice(0, 7);
  const periods = new Map([
    [budgetWarningEventId(request.tenant, request.day), `warned:day:${request.day}`],
    [budgetWarningEventId(request.tenant, month), `warned:month:${month}`],
  ]);
  const multi = redis.multi().hdel(backlogClaimsKey(prefix), claim.id);
  for (const id of claim.warnings) {
    multi
      .del(eventKey(prefix, id))
      .zrem(eventOutboxKey(prefix), id)
      .zrem(pendingEventsKey(prefix), id)
      .hdel(tenantSpendKey(prefix, request.tenant), periods.get(id) ?? '');
  }
  await multi.exec();
}

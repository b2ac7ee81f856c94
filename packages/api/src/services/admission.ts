/**
 * What every new job or batch passes at the door, before anything of it is stored: its tenant's
 * backlog quota and spend budgets (one claim in Redis, shared by every API process, let go when the
 * request ends), then Redis' memory guard and the tenant's enqueue rate. Each job reserves its
 * model's price per image times its images; a batch is admitted whole or refused whole.
 */
import { type AdmissionClaim, reservationOf, spendPeriodsAt, usdToMicros } from '@renderq/shared';
import type { ApiContext } from '../api-context.js';
import { Problem, RetryLaterProblem } from '../http/problems.js';

/** Jobs finish at Segmind's pace: a refused caller should wait a while, not hammer. */
const QUOTA_RETRY_AFTER_SECONDS = 30;
/** A budget frees up as jobs end unbilled or its period ends: asking again sooner than this gains little. */
const BUDGET_RETRY_AFTER_SECONDS = 60;

export interface RequestToAdmit {
  readonly tenant: string;
  readonly jobs: readonly { readonly model: string; readonly input: Record<string, unknown> }[];
  /** The request body's size, which the memory guard counts. */
  readonly bodyBytes: number;
  /** The request's webhook and the events it wants: where a budget warning it causes goes. */
  readonly webhookUrl: string | null | undefined;
  readonly webhookEvents: readonly string[] | null | undefined;
}

/** What each admitted job carries into its record (create-jobs' NewJob fields). */
export interface AdmittedJob {
  readonly claim?: string;
  readonly reserveMicros: number;
  readonly spendDay: string;
}

/** A per-tenant setting: the tenant's own value, else everyone's. */
interface PerTenant {
  readonly perTenant: number;
  readonly tenants: Readonly<Record<string, number>>;
}

function valueFor(setting: PerTenant, tenant: string): number {
  return Object.hasOwn(setting.tenants, tenant) ? (setting.tenants[tenant] as number) : setting.perTenant;
}

/** The quota that applies to `tenant` (0: none). */
export function backlogQuotaOf(ctx: ApiContext, tenant: string): number {
  return valueFor(ctx.config.api.backlogQuota, tenant);
}

/** The budgets in USD that apply to `tenant` (0: none). */
export function budgetsOf(ctx: ApiContext, tenant: string): { readonly day: number; readonly month: number } {
  const { daily, monthly } = ctx.config.api.spendBudgets;
  return { day: valueFor(daily, tenant), month: valueFor(monthly, tenant) };
}

/**
 * Runs `create` once the request is admitted, handing it what each job carries into its record;
 * or throws the refusal: 429 past the quota, 402 `budget_exceeded` past a budget (both with
 * Retry-After), 400 for a request that could never fit, 503 from the memory guard.
 */
export async function withAdmission<T>(
  ctx: ApiContext,
  request: RequestToAdmit,
  create: (admitted: readonly AdmittedJob[]) => Promise<T>,
): Promise<T> {
  const { tenant, jobs } = request;
  const quota = backlogQuotaOf(ctx, tenant);
  const budgets = budgetsOf(ctx, tenant);
  const budgeted = budgets.day > 0 || budgets.month > 0;
  const reserves = jobs.map((job) => reservationOf(job.model, job.input, ctx.config.models.pricesUsd));
  const unpriced = jobs.find((_, i) => reserves[i] === undefined);
  if (budgeted && unpriced) {
    throw new Problem(
      'validation_failed',
      `model "${unpriced.model}" has no price, so renderq cannot reserve its cost against tenant ${tenant}'s ` +
        'spend budget: an operator gives it one in MODEL_PRICES_USD',
    );
  }
  const micros = reserves.map((reserve) => reserve ?? 0);
  const total = micros.reduce((sum, m) => sum + m, 0);
  if (quota > 0 && jobs.length > quota) {
    throw new Problem(
      'validation_failed',
      `the batch's ${jobs.length} jobs are more than tenant ${tenant}'s backlog quota of ${quota} unfinished jobs: split it`,
    );
  }
  for (const period of ['day', 'month'] as const) {
    if (budgets[period] > 0 && total > usdToMicros(budgets[period])) {
      ctx.metrics.requestsRefused.inc({ reason: 'spend_budget' });
      throw new Problem(
        'budget_exceeded',
        `the request reserves ${usd(total)}, more than tenant ${tenant}'s whole ${PERIOD_WORD[period]} budget of ` +
          `${usd(usdToMicros(budgets[period]))}: it could never be admitted${jobs.length > 1 ? '; split it' : ''}`,
      );
    }
  }
  const day = spendPeriodsAt(Date.now()).day;
  let claim: Extract<AdmissionClaim, { admitted: true }> | undefined;
  if (quota > 0 || budgeted) {
    const answer = await ctx.store.claimAdmission({
      tenant,
      jobs: jobs.length,
      quota,
      reserveMicros: total,
      day,
      dailyBudgetMicros: usdToMicros(budgets.day),
      monthlyBudgetMicros: usdToMicros(budgets.month),
      warningUrl: wantsBudgetWarnings(request) ? (request.webhookUrl ?? null) : null,
    });
    if (!answer.admitted) throw refusal(ctx, request, quota, budgets, total, day, answer);
    claim = answer;
  }
  const claimId = claim?.id;
  let recorded = false;
  try {
    ctx.memoryGuard.admit(jobs.length, request.bodyBytes);
    await ctx.enqueueRate.charge(tenant, jobs.length);
    const created = await create(
      micros.map((reserveMicros) => ({ ...(claimId ? { claim: claimId } : {}), reserveMicros, spendDay: day })),
    );
    recorded = true;
    return created;
  } finally {
    if (claim) {
      await ctx.store.endAdmission({ tenant, day }, claim, recorded).catch(() => {
        // Left to lapse at its deadline: it holds room only until then (a warning stays in the outbox).
      });
    }
  }
}

const PERIOD_WORD = { day: 'daily', month: 'monthly' } as const;

function wantsBudgetWarnings(request: RequestToAdmit): boolean {
  return !!request.webhookUrl && (!request.webhookEvents || request.webhookEvents.includes('tenant.budget_warning'));
}

function refusal(
  ctx: ApiContext,
  request: RequestToAdmit,
  quota: number,
  budgets: { readonly day: number; readonly month: number },
  total: number,
  day: string,
  claim: Extract<AdmissionClaim, { admitted: false }>,
): Problem {
  const { tenant, jobs } = request;
  if (claim.refusedBy === 'quota') {
    ctx.metrics.requestsRefused.inc({ reason: 'backlog_quota' });
    return new RetryLaterProblem(
      'too_many_requests',
      `tenant ${tenant} has ${claim.held} unfinished jobs (queued, running or being created) and may have at ` +
        `most ${quota}: this request adds ${jobs.length}; retry in ${QUOTA_RETRY_AFTER_SECONDS} s, once some have finished`,
      QUOTA_RETRY_AFTER_SECONDS,
    );
  }
  ctx.metrics.requestsRefused.inc({ reason: 'spend_budget' });
  const period = claim.refusedBy;
  const start = period === 'day' ? day : day.slice(0, 7);
  const renews = period === 'day' ? nextDay(day) : nextMonth(day);
  const untilRenewal = Math.ceil((Date.parse(renews) - Date.now()) / 1000);
  return new RetryLaterProblem(
    'budget_exceeded',
    `tenant ${tenant} has spent or reserved ${usd(claim.spentMicros)} of its ${PERIOD_WORD[period]} budget of ` +
      `${usd(usdToMicros(budgets[period]))} (UTC ${period} ${start}) and this request reserves ${usd(total)}: ` +
      `the budget renews at ${renews}, and frees up sooner as its jobs end unbilled`,
    Math.max(1, Math.min(BUDGET_RETRY_AFTER_SECONDS, untilRenewal)),
  );
}

/** A USD amount as people write it: cents, or more digits where a price per image needs them. */
function usd(micros: number): string {
  const amount = micros / 1_000_000;
  return `$${amount.toFixed(Number.isInteger(amount * 100) ? 2 : 6).replace(/(\.\d\d\d*?)0+$/, '$1')}`;
}

function nextDay(day: string): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + 86_400_000).toISOString();
}

function nextMonth(day: string): string {
  const start = new Date(`${day}T00:00:00Z`);
  return new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + 1, 1)).toISOString();
}

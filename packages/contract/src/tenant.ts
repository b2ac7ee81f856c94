/**
 * What a tenant may hold and holds now: its backlog quota and enqueue rate, its unfinished jobs, its
 * fair share, its spend against its budgets.
 */
import { z } from 'zod';

const PeriodSpend = z.object({
  start: z.string().describe('The period: its UTC day (YYYY-MM-DD) or month (YYYY-MM).'),
  reserved_usd: z
    .number()
    .describe("Reserved by its jobs admitted in the period that Segmind has not yet billed, at the catalogue's price."),
  settled_usd: z
    .number()
    .describe(
      'What Segmind charged for its jobs admitted in the period (and what it may have charged without saying).',
    ),
  budget_usd: z.number().nullable().describe('The most reserved and settled together may reach; null: no budget.'),
});

export const TenantSpend = z
  .object({ day: PeriodSpend, month: PeriodSpend })
  .describe(
    "The tenant's spend today and this month (UTC), against its budgets; a job counts in the day it was admitted.",
  );
export type TenantSpend = z.infer<typeof TenantSpend>;

export const TenantStatus = z
  .object({
    tenant: z.string().describe('The tenant, as the API key names it.'),
    unfinished_jobs: z
      .number()
      .describe('Jobs queued or running at Segmind (a cancelled job whose request is still followed does not count).'),
    backlog_quota: z.number().nullable().describe('The most unfinished jobs the tenant may have; null: no quota.'),
    enqueue_rate: z
      .object({ per_second: z.number(), burst: z.number() })
      .nullable()
      .describe('Jobs per second the tenant may enqueue, and at once after a quiet spell; null: no limit.'),
    weight: z
      .number()
      .describe('Its weight in the fair share of the submit budget (1 unless TENANT_WEIGHTS gives another).'),
    waiting_jobs: z
      .number()
      .describe('Of its unfinished jobs, those waiting for its fair share (not yet on the render queue).'),
    share_now: z
      .number()
      .nullable()
      .describe(
        'The share of the submit budget it is due now: its weight over the weights of every tenant with jobs waiting; null while none of its jobs wait (or fair share is off).',
      ),
    spend: TenantSpend,
  })
  .describe("A tenant's limits and what it holds against them (docs/tenants.md).");
export type TenantStatus = z.infer<typeof TenantStatus>;

/** The body of a `tenant.budget_warning` webhook. */
export const BudgetWarning = z
  .object({
    tenant: z.string(),
    period: z.enum(['day', 'month']),
    period_start: z.string().describe('The UTC day (YYYY-MM-DD) or month (YYYY-MM).'),
    budget_usd: z.number(),
    spent_usd: z.number().describe('Reserved and settled together once the request that crossed 80 % was admitted.'),
  })
  .describe("A tenant's spend reached 80 % of a budget: sent once per period.");
export type BudgetWarning = z.infer<typeof BudgetWarning>;

export const TenantList = z.object({
  tenants: z.array(TenantStatus).describe('Every tenant with a key, and any other with unfinished jobs, by name.'),
});
export type TenantList = z.infer<typeof TenantList>;

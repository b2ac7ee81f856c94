/**
 * Tenants' spend against their budgets, as the API shows it (`GET /v1/tenant`, the admin tenants
 * list) and as the budget gauge reads it: the ledger's reserved and settled USD for today and this
 * month (UTC), beside the budgets that apply.
 */
import type { TenantSpend } from '@renderq/contract';
import { spendPeriodsAt } from '@renderq/shared';
import type { ApiContext } from '../api-context.js';
import { budgetsOf } from './admission.js';

/** Each tenant's spend today and this month, against its budgets. */
export async function spendStatusOf(ctx: ApiContext, tenants: readonly string[]): Promise<Map<string, TenantSpend>> {
  const periods = spendPeriodsAt(Date.now());
  const ledgers = await ctx.store.spendOf(tenants, periods);
  return new Map(
    tenants.map((tenant) => {
      const budgets = budgetsOf(ctx, tenant);
      const spent = ledgers.get(tenant);
      const period = (start: string, budget: number, kept = { reservedUsd: 0, settledUsd: 0 }) => ({
        start,
        reserved_usd: kept.reservedUsd,
        settled_usd: kept.settledUsd,
        budget_usd: budget > 0 ? budget : null,
      });
      return [
        tenant,
        {
          day: period(periods.day, budgets.day, spent?.day),
          month: period(periods.month, budgets.month, spent?.month),
        },
      ];
    }),
  );
}

/** Every tenant with a budget (by key or by setting): its spend over each budget it has. */
export async function budgetUse(
  ctx: ApiContext,
): Promise<{ tenant: string; period: 'day' | 'month'; ratio: number }[]> {
  const { daily, monthly } = ctx.config.api.spendBudgets;
  const named = new Set([
    ...(ctx.config.api.tenants?.map((entry) => entry.tenant) ?? []),
    ...Object.keys(daily.tenants),
    ...Object.keys(monthly.tenants),
  ]);
  const budgeted = [...named].filter((tenant) => {
    const budgets = budgetsOf(ctx, tenant);
    return budgets.day > 0 || budgets.month > 0;
  });
  if (budgeted.length === 0) return [];
  const spend = await spendStatusOf(ctx, budgeted);
  return [...spend].flatMap(([tenant, { day, month }]) =>
    [['day', day] as const, ['month', month] as const].flatMap(([period, used]) =>
      used.budget_usd === null
        ? []
        : [{ tenant, period, ratio: (used.reserved_usd + used.settled_usd) / used.budget_usd }],
    ),
  );
}

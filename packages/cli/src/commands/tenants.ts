/**
 * `renderq tenant`: the calling tenant's backlog quota, enqueue rate, unfinished jobs, fair share
 * and spend against its budgets, as a table `renderq admin tenants` shows for every tenant.
 */
import type { TenantStatus } from '@renderq/contract';
import { callApi } from '../api-calls.js';
import type { Action } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { table } from '../format.js';

export function tenantCommand(): Action {
  return async (context) => {
    const status = await callApi<TenantStatus>(context.target, 'GET', '/v1/tenant');
    context.output.result(status, () => tenantTable([status]));
    return EXIT.ok;
  };
}

export function tenantTable(tenants: readonly TenantStatus[]): string[] {
  return table(
    [
      'tenant',
      'weight',
      'share now',
      'waiting',
      'unfinished jobs',
      'backlog quota',
      'enqueue rate',
      'spent today',
      'spent this month',
    ],
    tenants.map((t) => [
      t.tenant,
      String(t.weight),
      t.share_now === null ? '-' : `${Math.round(t.share_now * 100)} %`,
      String(t.waiting_jobs),
      String(t.unfinished_jobs),
      t.backlog_quota === null ? 'none' : String(t.backlog_quota),
      t.enqueue_rate === null ? 'none' : `${t.enqueue_rate.per_second}/s, bursts of ${t.enqueue_rate.burst}`,
      spent(t.spend.day),
      spent(t.spend.month),
    ]),
  );
}

/** Reserved and settled together, beside the budget when there is one. */
function spent(period: TenantStatus['spend']['day']): string {
  const used = usd(period.reserved_usd + period.settled_usd);
  return period.budget_usd === null ? used : `${used} of ${usd(period.budget_usd)}`;
}

/** Cents for amounts of a dollar or more; a price per image's digits below. */
function usd(amount: number): string {
  return `$${amount >= 1 || amount === 0 ? amount.toFixed(2) : String(Number(amount.toFixed(4)))}`;
}

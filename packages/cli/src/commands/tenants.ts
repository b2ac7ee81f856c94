/**
 * `renderq tenant`: the calling tenant's backlog quota, enqueue rate, unfinished jobs and fair
 * share, as a table `renderq admin tenants` shows for every tenant.
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
    ['tenant', 'weight', 'share now', 'waiting', 'unfinished jobs', 'backlog quota', 'enqueue rate'],
    tenants.map((t) => [
      t.tenant,
      String(t.weight),
      t.share_now === null ? '-' : `${Math.round(t.share_now * 100)} %`,
      String(t.waiting_jobs),
      String(t.unfinished_jobs),
      t.backlog_quota === null ? 'none' : String(t.backlog_quota),
      t.enqueue_rate === null ? 'none' : `${t.enqueue_rate.per_second}/s, bursts of ${t.enqueue_rate.burst}`,
    ]),
  );
}

/**
 * A tenant's limits and what it holds against them (jobs, fair share, spend): its own
 * (`GET /v1/tenant`), and every tenant's for operators.
 */
import { Problem as ProblemSchema, TenantList, type TenantSpend, TenantStatus } from '@renderq/contract';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { ApiContext } from '../api-context.js';
import { OPEN_TENANT } from '../http/access.js';
import { backlogQuotaOf } from '../services/admission.js';
import type { FairShareNow } from '../services/fair-share-reading.js';
import { spendStatusOf } from '../services/tenant-spend.js';

export async function tenantRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const routes = app.withTypeProvider<ZodTypeProvider>();

  routes.get(
    '/v1/tenant',
    {
      config: { access: 'tenant' },
      schema: {
        summary: "The calling tenant's backlog quota, enqueue rate, unfinished jobs, fair share and spend",
        tags: ['tenants'],
        response: { 200: TenantStatus, 401: ProblemSchema, 403: ProblemSchema },
      },
    },
    async (request) => {
      const [unfinished, waiting, spend] = await Promise.all([
        ctx.store.unfinishedJobsOf(request.tenant),
        ctx.fairShareNow(),
        spendStatusOf(ctx, [request.tenant]),
      ]);
      return statusOf(ctx, request.tenant, unfinished, waiting, spend.get(request.tenant) as TenantSpend);
    },
  );

  routes.get(
    '/v1/admin/tenants',
    {
      config: { access: 'operator' },
      schema: {
        summary: "Every tenant's backlog quota, enqueue rate, unfinished jobs, fair share and spend",
        tags: ['tenants'],
        response: { 200: TenantList, 401: ProblemSchema, 403: ProblemSchema },
      },
    },
    async () => {
      const [counts, waiting] = await Promise.all([ctx.store.unfinishedJobsByTenant(), ctx.fairShareNow()]);
      // Tenants with a key, and any whose key was taken away while it still has jobs.
      const keyed = ctx.config.api.tenants?.map((entry) => entry.tenant) ?? [OPEN_TENANT];
      const names = [...new Set([...keyed, ...[...counts].filter(([, n]) => n > 0).map(([name]) => name)])].sort();
      const spend = await spendStatusOf(ctx, names);
      return {
        tenants: names.map((tenant) =>
          statusOf(ctx, tenant, counts.get(tenant) ?? 0, waiting, spend.get(tenant) as TenantSpend),
        ),
      };
    },
  );
}

function statusOf(
  ctx: ApiContext,
  tenant: string,
  unfinished: number,
  share: FairShareNow,
  spend: TenantSpend,
): TenantStatus {
  const quota = backlogQuotaOf(ctx, tenant);
  const { perSecond, burst } = ctx.config.api.enqueueRate;
  const weight = ctx.weightOf(tenant);
  const waiting = share.waiting.get(tenant) ?? 0;
  return {
    tenant,
    unfinished_jobs: unfinished,
    backlog_quota: quota === 0 ? null : quota,
    enqueue_rate: perSecond === 0 ? null : { per_second: perSecond, burst },
    weight,
    waiting_jobs: waiting,
    share_now: waiting > 0 && share.totalWeight > 0 ? weight / share.totalWeight : null,
    spend,
  };
}

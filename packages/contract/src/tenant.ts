/** What a tenant may hold and holds now: its backlog quota and enqueue rate, and its unfinished jobs. */
import { z } from 'zod';

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
  })
  .describe("A tenant's limits and what it holds against them (docs/tenants.md).");
export type TenantStatus = z.infer<typeof TenantStatus>;

export const TenantList = z.object({
  tenants: z.array(TenantStatus).describe('Every tenant with a key, and any other with unfinished jobs, by name.'),
});
export type TenantList = z.infer<typeof TenantList>;

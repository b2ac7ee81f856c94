/** What a tenant may hold and holds now: its backlog quota and enqueue rate, its unfinished jobs, its fair share. */
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
  })
  .describe("A tenant's limits and what it holds against them (docs/tenants.md).");
export type TenantStatus = z.infer<typeof TenantStatus>;

export const TenantList = z.object({
  tenants: z.array(TenantStatus).describe('Every tenant with a key, and any other with unfinished jobs, by name.'),
});
export type TenantList = z.infer<typeof TenantList>;

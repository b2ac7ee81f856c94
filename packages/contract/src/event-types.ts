/** The webhook events that exist: what a job's or a batch's `webhook_events` may name. */
import { z } from 'zod';

/** The events a single job can cause (a batch's jobs also cause `batch.completed`). */
export const JobEventType = z.enum(['job.completed', 'job.failed', 'job.cancelled', 'job.expired']);
export type JobEventType = z.infer<typeof JobEventType>;

/**
 * A tenant's own events, carried by the webhook of the request that caused them:
 * `tenant.budget_warning`, its spend reached 80 % of a budget (docs/tenants.md).
 */
const TenantEventType = z.enum(['tenant.budget_warning']);

/** What a single job's `webhook_events` may name. */
export const SingleJobEventType = z.enum([...JobEventType.options, ...TenantEventType.options]);
export type SingleJobEventType = z.infer<typeof SingleJobEventType>;

export const WebhookEventType = z.enum([...JobEventType.options, 'batch.completed', ...TenantEventType.options]);
export type WebhookEventType = z.infer<typeof WebhookEventType>;

/** The webhook events that exist: what a job's or a batch's `webhook_events` may name. */
import { z } from 'zod';

/** The events a single job can cause (a batch's jobs also cause `batch.completed`). */
export const JobEventType = z.enum(['job.completed', 'job.failed', 'job.cancelled']);
export type JobEventType = z.infer<typeof JobEventType>;

export const WebhookEventType = z.enum([...JobEventType.options, 'batch.completed']);
export type WebhookEventType = z.infer<typeof WebhookEventType>;

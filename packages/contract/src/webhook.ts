/**
 * Webhooks (docs/webhooks.md): the events that exist, the body renderq POSTs, and an event with
 * its delivery attempts as the API lists them.
 */
import { z } from 'zod';
import { Batch } from './batch.js';
import { JobEventType, WebhookEventType } from './event-types.js';
import { Job } from './job.js';
import { BudgetWarning } from './tenant.js';

/**
 * Where an event's delivery stands. `pending`: attempts remain; `delivered`: a 2xx
 * came back; `gone`: the receiver answered 410 and wants no more; `failed`: the
 * schedule ran out (or the subject expired before delivery).
 */
export const EventStatus = z.enum(['pending', 'delivered', 'gone', 'failed']);
export type EventStatus = z.infer<typeof EventStatus>;

/** What one attempt came to; also the `outcome` label of renderq_webhook_deliveries_total. */
export const AttemptOutcome = z.enum(['delivered', 'failed', 'gone', 'refused']);
export type AttemptOutcome = z.infer<typeof AttemptOutcome>;

export const DeliveryAttempt = z.object({
  attempt: z.number().describe('1 for the first attempt, counting across redeliveries.'),
  at: z.string(),
  duration_ms: z.number(),
  /** null when no answer came (timeout, refused connection, private address). */
  status_code: z.number().nullable().describe('null when no answer came.'),
  outcome: AttemptOutcome,
  error: z.string().nullable(),
});
export type DeliveryAttempt = z.infer<typeof DeliveryAttempt>;

export const WebhookEvent = z
  .object({
    id: z.string().describe('The webhook-id header: the same on every attempt and redelivery.'),
    type: WebhookEventType,
    url: z.string(),
    status: EventStatus,
    created_at: z.string(),
    /** When the next attempt is due while `pending` (ISO 8601), else null. */
    next_attempt_at: z.string().nullable(),
    attempts: z.array(DeliveryAttempt),
  })
  .describe('A webhook event and every attempt to deliver it.');
export type WebhookEvent = z.infer<typeof WebhookEvent>;

export const WebhookDeliveries = z
  .object({ events: z.array(WebhookEvent) })
  .describe('The webhook events of a job or batch, with their delivery attempts.');
export type WebhookDeliveries = z.infer<typeof WebhookDeliveries>;

/** The body of a webhook renderq sends: `data` is the job or batch as the API shows it, or a budget warning. */
export const WebhookPayload = z.union([
  z.object({ type: JobEventType, timestamp: z.string(), data: Job }),
  z.object({ type: z.literal('batch.completed'), timestamp: z.string(), data: Batch }),
  z.object({ type: z.literal('tenant.budget_warning'), timestamp: z.string(), data: BudgetWarning }),
]);
export type WebhookPayload = z.infer<typeof WebhookPayload>;

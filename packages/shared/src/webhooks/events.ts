/**
 * Webhook events (docs/webhooks.md): which exist, how an event and its
 * delivery attempts are recorded, and how an event's id follows from what it is
 * about — so that a retried or recovered event always carries the same `webhook-id`.
 */
import { z } from 'zod';

export const WebhookEventType = z.enum(['job.completed', 'job.failed', 'job.cancelled', 'batch.completed']);
export type WebhookEventType = z.infer<typeof WebhookEventType>;
export const WEBHOOK_EVENT_TYPES = WebhookEventType.options;
/** The events a single job can cause (a batch's jobs also cause `batch.completed`). */
export const JOB_EVENT_TYPES = ['job.completed', 'job.failed', 'job.cancelled'] as const;

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

export interface DeliveryAttempt {
  /** 1 for the first attempt of the event, counting across redeliveries. */
  readonly attempt: number;
  readonly at: string;
  readonly duration_ms: number;
  /** null when no answer came (timeout, refused connection, private address). */
  readonly status_code: number | null;
  readonly outcome: AttemptOutcome;
  readonly error: string | null;
}

export interface WebhookEvent {
  readonly id: string;
  readonly type: WebhookEventType;
  readonly subject: { readonly kind: 'job' | 'batch'; readonly id: string };
  readonly tenant: string;
  readonly url: string;
  readonly created_at: string;
  readonly status: EventStatus;
  readonly attempts: number;
  /** Attempts in the current round (a redelivery starts a new round of the schedule). */
  readonly round_attempts: number;
  /** When the next attempt is due while `pending` (ISO 8601), else null. */
  readonly next_attempt_at: string | null;
}

/** The event a subject's finishing causes; the same every time it is asked. */
export function eventIdFor(subjectId: string, type: WebhookEventType): string {
  return `evt_${subjectId}_${type.slice(type.indexOf('.') + 1)}`;
}

/** The event a job's final status causes. */
export function jobEventType(status: 'completed' | 'failed' | 'cancelled'): WebhookEventType {
  return `job.${status}`;
}

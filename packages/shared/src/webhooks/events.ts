/**
 * Webhook events (docs/webhooks.md): which exist, how an event and its
 * delivery attempts are recorded, and how an event's id follows from what it is
 * about — so that a retried or recovered event always carries the same `webhook-id`.
 */
import { type EventStatus, type FinishedStatus, JobEventType, type WebhookEventType } from '@renderq/contract';

/** The events a single job can cause (a batch's jobs also cause `batch.completed`). */
export const JOB_EVENT_TYPES = JobEventType.options;

/** A webhook event as kept in Redis: what it is about, for whom, and where its delivery stands. */
export interface WebhookEventRecord {
  readonly id: string;
  readonly type: WebhookEventType;
  /** A tenant is the subject of its budget warnings. */
  readonly subject: { readonly kind: 'job' | 'batch' | 'tenant'; readonly id: string };
  readonly tenant: string;
  readonly url: string;
  readonly created_at: string;
  readonly status: EventStatus;
  readonly attempts: number;
  /** Attempts in the current round (a redelivery starts a new round of the schedule). */
  readonly round_attempts: number;
  /** When the next attempt is due while `pending` (ISO 8601), else null. */
  readonly next_attempt_at: string | null;
  /** The body's `data` as recorded with the event, for an event about no job or batch (JSON). */
  readonly data: string | null;
}

/** The event a subject's finishing causes; the same every time it is asked. */
export function eventIdFor(subjectId: string, type: WebhookEventType): string {
  return `evt_${subjectId}_${type.slice(type.indexOf('.') + 1)}`;
}

/** The event a job's final status causes. */
export function jobEventType(status: FinishedStatus): WebhookEventType {
  return `job.${status}`;
}

/**
 * A tenant's budget warning for a period, `start` its day (YYYY-MM-DD) or month (YYYY-MM): once
 * per tenant and period.
 */
export function budgetWarningEventId(tenant: string, start: string): string {
  return `evt_${tenant}_budget_warning_${start}`;
}

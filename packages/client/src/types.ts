/**
 * The API's shapes (docs/api.md), as a caller and a webhook receiver see them: what the API answers
 * and webhooks carry is @renderq/contract's; what a caller sends is written here.
 */
import type { JobStatus, SingleJobEventType, WebhookEventType } from './contract.js';

/** What `GET /v1/jobs` filters by; every filter is optional. */
export interface JobFilters {
  readonly status?: JobStatus;
  readonly model?: string;
  readonly batch_id?: string;
  /** ISO 8601: jobs created strictly after. */
  readonly created_after?: string;
  /** ISO 8601: jobs created strictly before. */
  readonly created_before?: string;
}

export interface ListJobsOptions extends JobFilters {
  /** Jobs per page, 1-1,000. @defaultValue 100 */
  readonly limit?: number;
  /** The previous page's `next_cursor`. */
  readonly cursor?: string;
}

export interface NewJob {
  readonly model: string;
  readonly input: Record<string, unknown>;
  readonly webhook_url?: string;
  readonly webhook_events?: readonly SingleJobEventType[];
  readonly metadata?: Record<string, unknown>;
  /** 1 runs first. */
  readonly priority?: number;
}

export interface NewBatchJob {
  readonly model: string;
  readonly input: Record<string, unknown>;
  readonly metadata?: Record<string, unknown>;
}

export interface NewBatch {
  readonly jobs: readonly NewBatchJob[];
  readonly webhook_url?: string;
  readonly webhook_events?: readonly WebhookEventType[];
  readonly metadata?: Record<string, unknown>;
  readonly priority?: number;
}

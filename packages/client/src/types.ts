/** The API's shapes (docs/api.md), as a caller and a webhook receiver see them. */

export type JobStatus = 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';
export type BatchStatus = 'running' | 'completed' | 'cancelled';
export type JobEventType = 'job.completed' | 'job.failed' | 'job.cancelled';
export type WebhookEventType = JobEventType | 'batch.completed';

export interface JobOutput {
  /** Needs no API key: a signed, expiring link or a presigned S3 URL. */
  readonly url: string;
  readonly content_type: string;
  readonly size: number;
  readonly sha256: string;
  readonly storage_key: string;
}

/**
 * An input image the caller sent inline (base64 or a data: URI), as a job shows it:
 * renderq stored it at enqueue, and links to it instead of repeating its bytes.
 */
export interface JobInputFile {
  /** Needs no API key: a signed, expiring link or a presigned S3 URL. */
  readonly url: string;
  readonly sha256: string;
  readonly content_type: string;
  readonly size: number;
}

export interface Job {
  readonly id: string;
  readonly model: string;
  readonly status: JobStatus;
  /** As sent, defaults filled in; an inline input image shows as a JobInputFile (a URL stays as given). */
  readonly input: Record<string, unknown>;
  readonly metadata: Record<string, unknown> | null;
  readonly batch_id: string | null;
  readonly segmind_request_id: string | null;
  readonly outputs: readonly JobOutput[];
  readonly error: { readonly code: string; readonly message: string } | null;
  /** Segmind credits. */
  readonly cost: number | null;
  readonly created_at: string;
  readonly started_at: string | null;
  readonly finished_at: string | null;
}

export interface Batch {
  readonly id: string;
  readonly status: BatchStatus;
  readonly metadata: Record<string, unknown> | null;
  readonly counts: {
    readonly total: number;
    readonly queued: number;
    readonly running: number;
    readonly completed: number;
    readonly failed: number;
    readonly cancelled: number;
  };
  /** Segmind credits its jobs have cost so far (cancelled ones included); null until one is known. */
  readonly cost: number | null;
  readonly created_at: string;
  readonly finished_at: string | null;
}

/** The answer to creating a batch: the batch, and its jobs' ids in request order. */
export interface CreatedBatch extends Batch {
  /** `index` is the job's place in the request, 0-based (for NDJSON: its line among the jobs). */
  readonly jobs: readonly { readonly index: number; readonly id: string }[];
}

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

/** One page of `GET /v1/jobs`, newest first. */
export interface JobPage {
  readonly jobs: readonly Job[];
  /**
   * Where the next page starts; null when there is none. A page may hold fewer jobs than
   * asked for (even none) and still have a next page: one request scans a bounded part of the list.
   */
  readonly next_cursor: string | null;
}

export interface NewJob {
  readonly model: string;
  readonly input: Record<string, unknown>;
  readonly webhook_url?: string;
  readonly webhook_events?: readonly JobEventType[];
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

export interface Model {
  readonly name: string;
  readonly title: string;
  readonly kind: string;
  readonly input_schema: Record<string, unknown>;
}

export interface DeliveryAttempt {
  readonly attempt: number;
  readonly at: string;
  readonly duration_ms: number;
  readonly status_code: number | null;
  readonly outcome: 'delivered' | 'failed' | 'gone' | 'refused';
  readonly error: string | null;
}

export interface WebhookEvent {
  /** The `webhook-id` header, the same on every attempt. */
  readonly id: string;
  readonly type: WebhookEventType;
  readonly url: string;
  readonly status: 'pending' | 'delivered' | 'gone' | 'failed';
  readonly created_at: string;
  readonly next_attempt_at: string | null;
  readonly attempts: readonly DeliveryAttempt[];
}

/** The body of a webhook renderq sends. */
export type WebhookPayload =
  | { readonly type: JobEventType; readonly timestamp: string; readonly data: Job }
  | { readonly type: 'batch.completed'; readonly timestamp: string; readonly data: Batch };

/** An error answer (application/problem+json). */
export interface Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly errors?: readonly {
    readonly path: string;
    readonly message: string;
    readonly index?: number;
    readonly line?: number;
  }[];
}

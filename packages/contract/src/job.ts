/** A job as the API answers it and webhooks carry it (docs/api.md), with the codes it can end with. */
import { z } from 'zod';
import { WebhookEventType } from './event-types.js';
import { JOB_STATUSES } from './statuses.js';

export const JobStatus = z.enum(JOB_STATUSES);
export type JobStatus = z.infer<typeof JobStatus>;

export const ErrorCode = z.enum([
  /** The inference ran and FAILED at Segmind (HTTP 422 on poll). */
  'segmind_failed',
  /** Segmind refused the submit: 400/403/404/405/410. */
  'segmind_rejected',
  /** Segmind refused the API key (401). */
  'segmind_unauthorized',
  /** The request record expired at Segmind before the result was fetched (404 on poll). */
  'segmind_expired',
  /** A submit whose answer never came, failed by the ambiguous-submit policy. */
  'segmind_ambiguous_submit',
  /** Retries of a passing Segmind fault (5xx, network) ran out. */
  'segmind_unavailable',
  /** The per-job deadline passed. */
  'timeout',
  /** An output could not be downloaded or stored. */
  'storage_failed',
  /** The input was valid when enqueued but cannot be used (for example an unreachable image). */
  'invalid_input',
  /** Anything unexpected; the message says what. */
  'internal_error',
]);
export type ErrorCode = z.infer<typeof ErrorCode>;

/** Why a job failed. */
export const JobError = z.object({ code: ErrorCode, message: z.string() });
export type JobError = z.infer<typeof JobError>;

export const JobOutput = z.object({
  /** Needs no API key: a signed, expiring link or a presigned S3 URL. */
  url: z.string(),
  content_type: z.string(),
  size: z.number(),
  sha256: z.string(),
  storage_key: z.string(),
});
export type JobOutput = z.infer<typeof JobOutput>;

/**
 * An input image the caller sent inline (base64 or a data: URI), as a job shows it in its `input`:
 * renderq stored it at enqueue, and links to it instead of repeating its bytes.
 */
export const JobInputFile = z.object({
  /** Needs no API key: a signed, expiring link or a presigned S3 URL. */
  url: z.string(),
  sha256: z.string(),
  content_type: z.string(),
  size: z.number(),
});
export type JobInputFile = z.infer<typeof JobInputFile>;

export const Job = z
  .object({
    id: z.string(),
    model: z.string(),
    status: JobStatus,
    input: z
      .record(z.string(), z.unknown())
      .describe(
        'The input as sent, defaults filled in. An image sent inline (base64 or a data: URI) shows as ' +
          '{url, sha256, content_type, size} instead of its bytes — `url` needs no key (GET ' +
          '/v1/jobs/{id}/inputs/{field}, signed and expiring, or a presigned S3 URL); an image URL stays as given.',
      ),
    metadata: z.record(z.string(), z.unknown()).nullable(),
    batch_id: z.string().nullable(),
    webhook_url: z
      .string()
      .nullable()
      .describe(
        'Where its events are POSTed, null for none (a batch’s job: the batch’s, when it sends job events); ' +
          'user:password and the values of secret-looking query parameters (token, key, signature, …) are not shown.',
      ),
    webhook_events: z.array(WebhookEventType).nullable().describe('The events its webhook gets; null: all of them.'),
    priority: z.number().int().describe('1 runs first: as sent, or the default (1 for a single job, 10 in a batch).'),
    segmind_request_id: z.string().nullable(),
    outputs: z.array(JobOutput),
    error: JobError.nullable(),
    cost: z
      .number()
      .nullable()
      .describe('Segmind credits the job cost, once known (a job cancelled while at Segmind included).'),
    created_at: z.string(),
    start_by: z
      .string()
      .nullable()
      .describe(
        'Its start-by deadline (from `start_by` or `ttl_seconds`): not submitted by then, it ends `expired`, ' +
          'costing nothing. Null: none.',
      ),
    started_at: z.string().nullable(),
    finished_at: z.string().nullable(),
    queue_position: z
      .number()
      .int()
      .nullable()
      .describe(
        'While queued: how many of its tenant’s jobs go before it in the tenant’s share (0: it is next, or ' +
          'already handed to a worker). Null once it has started, and with FAIR_SHARE=false (its place would count ' +
          'other tenants’ jobs).',
      ),
    estimated_start_at: z
      .string()
      .nullable()
      .describe(
        'While queued: when its submit is expected, from its place, its tenant’s share and Segmind’s learned ' +
          'submit rate; null when that cannot be told (no rate learned yet, taking jobs paused) or once started.',
      ),
    estimated_finish_at: z
      .string()
      .nullable()
      .describe(
        'Until it finishes: when it is expected to, from its (expected) start and the model’s recent latencies ' +
          'at Segmind (their median); null when that cannot be told.',
      ),
    events_url: z
      .string()
      .describe(
        'Its event stream (GET /v1/jobs/{id}/events) as a signed link that needs no key — for a browser’s ' +
          'EventSource — expiring after OUTPUT_LINK_TTL_SECONDS.',
      ),
    trace_id: z
      .string()
      .nullable()
      .describe(
        'The OpenTelemetry trace its steps are recorded in (the caller’s, when the creating request sent a ' +
          '`traceparent`); null when it is not traced (renderq’s tracing off, or the request not sampled).',
      ),
    replay_of: z
      .string()
      .nullable()
      .describe('The finished job this one runs again, when a bulk replay (POST /v1/jobs/replay) made it.'),
    replayed_by: z
      .string()
      .nullable()
      .describe('The job a bulk replay made to run this one again; a job is replayed at most once.'),
  })
  .describe('A job.');
export type Job = z.infer<typeof Job>;

export const JobPage = z
  .object({
    jobs: z.array(Job).describe('Newest first.'),
    next_cursor: z
      .string()
      .nullable()
      .describe(
        'Pass as `cursor` for the next page; null when there is none. A page may hold fewer jobs than `limit`, ' +
          'even none, and still have a next page: one request scans a bounded part of the list.',
      ),
  })
  .describe("A page of the tenant's jobs.");
export type JobPage = z.infer<typeof JobPage>;

/**
 * The API's request and response shapes as zod schemas: fastify validates with
 * them and @fastify/swagger documents them (one source for both). A job's `input`
 * is checked against its model's own schema in the route, so its errors carry
 * paths such as `input.samples`.
 */
import {
  AttemptOutcome,
  ErrorCode,
  EventStatus,
  ID_PATTERNS,
  JOB_EVENT_TYPES,
  JobStatus,
  WebhookEventType,
} from '@renderq/shared';
import { z } from 'zod';

const metadata = z
  .record(z.string(), z.unknown())
  .refine((value) => JSON.stringify(value).length <= 16_384, 'must be at most 16 KiB as JSON')
  .describe('Free-form JSON object, returned as given (at most 16 KiB).');

const webhookUrl = z
  .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
  .max(2048)
  .describe('Where the events are POSTed, signed per Standard Webhooks.');

const unique = (values: readonly string[]) => new Set(values).size === values.length;

const jobWebhookEvents = z
  .array(z.enum(JOB_EVENT_TYPES))
  .min(1)
  .refine(unique, 'must not repeat an event')
  .describe('The events to send; all of them when left out.');

const batchWebhookEvents = z
  .array(WebhookEventType)
  .min(1)
  .refine(unique, 'must not repeat an event')
  .describe("The events to send (its jobs' and batch.completed); all of them when left out.");

const priority = z
  .number()
  .int()
  .min(1)
  .max(1_000)
  .describe('1 runs first. Single jobs default to 1, batch jobs to 10.');

export const JobRequest = z.strictObject({
  model: z.string().describe('A Segmind model slug, see GET /v1/models.'),
  input: z.record(z.string(), z.unknown()).describe("The model's parameters, checked against its schema."),
  webhook_url: webhookUrl.optional(),
  webhook_events: jobWebhookEvents.optional(),
  metadata: metadata.optional(),
  priority: priority.optional(),
});
export type JobRequest = z.infer<typeof JobRequest>;

export const BatchJobRequest = z.strictObject({
  model: z.string(),
  input: z.record(z.string(), z.unknown()),
  metadata: metadata.optional(),
});

export const BatchRequest = z.strictObject({
  jobs: z.array(BatchJobRequest).min(1, 'must hold at least one job'),
  webhook_url: webhookUrl.optional(),
  webhook_events: batchWebhookEvents.optional(),
  metadata: metadata.optional(),
  priority: priority.optional(),
});

export const BatchQuery = z.object({
  webhook_url: webhookUrl.optional(),
  webhook_events: z
    .string()
    .transform((value) => value.split(',').map((part) => part.trim()))
    .pipe(batchWebhookEvents)
    .optional()
    .describe('NDJSON batches: the events to send, comma-separated.'),
  priority: z.coerce.number().int().min(1).max(1_000).optional(),
});

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
    segmind_request_id: z.string().nullable(),
    outputs: z.array(
      z.object({
        url: z.string(),
        content_type: z.string(),
        size: z.number(),
        sha256: z.string(),
        storage_key: z.string(),
      }),
    ),
    error: z.object({ code: ErrorCode, message: z.string() }).nullable(),
    cost: z
      .number()
      .nullable()
      .describe('Segmind credits the job cost, once known (a job cancelled while at Segmind included).'),
    created_at: z.string(),
    started_at: z.string().nullable(),
    finished_at: z.string().nullable(),
  })
  .describe('A job.');

export const Batch = z
  .object({
    id: z.string(),
    status: z.enum(['running', 'completed', 'cancelled']),
    metadata: z.record(z.string(), z.unknown()).nullable(),
    counts: z.object({
      total: z.number(),
      queued: z.number(),
      running: z.number(),
      completed: z.number(),
      failed: z.number(),
      cancelled: z.number(),
    }),
    cost: z
      .number()
      .nullable()
      .describe('Segmind credits its jobs have cost so far (cancelled ones included); null until one is known.'),
    created_at: z.string(),
    finished_at: z.string().nullable(),
  })
  .describe('A batch.');

export const CreatedBatch = Batch.extend({
  jobs: z
    .array(
      z.object({
        index: z
          .number()
          .describe("The job's place in the request, 0-based (JSON: in `jobs`; NDJSON: among the lines)."),
        id: z.string(),
      }),
    )
    .describe("The batch's jobs in request order."),
}).describe('A batch just created, with the id of each of its jobs.');

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

export const ProblemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number(),
    detail: z.string(),
    errors: z
      .array(
        z.object({
          index: z.number().optional().describe('Batch (JSON): the job, 0-based.'),
          line: z.number().optional().describe('Batch (NDJSON): the line, 1-based.'),
          path: z.string(),
          message: z.string(),
        }),
      )
      .optional(),
  })
  .describe('An error, as application/problem+json (RFC 9457).');

// A path parameter that is not a well-formed id is answered 404 (problem-handler.ts), as an unknown id is.
const jobId = z.string().regex(ID_PATTERNS.job, 'is not a job id').describe('A job id, job_…');
const batchId = z.string().regex(ID_PATTERNS.batch, 'is not a batch id').describe('A batch id, bat_…');
export const JobIdParams = z.object({ id: jobId });
export const BatchIdParams = z.object({ id: batchId });
export const OutputParams = z.object({ id: jobId, index: z.coerce.number().int().min(0).max(1_000) });
export const OutputQuery = z.object({ expires: z.string().optional(), signature: z.string().optional() });
export const InputParams = z.object({
  id: jobId,
  field: z
    .string()
    .regex(/^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$/, 'is not an input field')
    .describe('The input field the image was sent in, such as `image`.'),
});

const isoTime = z.iso.datetime({ offset: true, error: 'must be an ISO 8601 date-time such as 2025-01-31T12:00:00Z' });

export const JobListQuery = z.strictObject({
  status: JobStatus.optional(),
  model: z.string().max(128).optional().describe('A model slug.'),
  batch_id: batchId.optional(),
  created_after: isoTime.optional().describe('Jobs created strictly after this time (ISO 8601).'),
  created_before: isoTime.optional().describe('Jobs created strictly before this time (ISO 8601).'),
  limit: z.coerce.number().int().min(1).max(1_000).default(100).describe('Jobs per page, 1-1,000.'),
  cursor: z
    .string()
    .max(2_048)
    .optional()
    .describe("The previous page's `next_cursor`. It carries that listing's filters: send the same ones, or none."),
});
export type JobListQuery = z.infer<typeof JobListQuery>;

export const Model = z.object({
  name: z.string(),
  title: z.string(),
  kind: z.enum(['text-to-image', 'image-to-image']),
  input_schema: z.record(z.string(), z.unknown()),
});

export const DeliveryAttemptSchema = z.object({
  attempt: z.number().describe('1 for the first attempt, counting across redeliveries.'),
  at: z.string(),
  duration_ms: z.number(),
  status_code: z.number().nullable().describe('null when no answer came.'),
  outcome: AttemptOutcome,
  error: z.string().nullable(),
});

export const WebhookEventSchema = z
  .object({
    id: z.string().describe('The webhook-id header: the same on every attempt and redelivery.'),
    type: WebhookEventType,
    url: z.string(),
    status: EventStatus,
    created_at: z.string(),
    next_attempt_at: z.string().nullable(),
    attempts: z.array(DeliveryAttemptSchema),
  })
  .describe('A webhook event and every attempt to deliver it.');

export const WebhookDeliveries = z
  .object({ events: z.array(WebhookEventSchema) })
  .describe('The webhook events of a job or batch, with their delivery attempts.');

/**
 * The API's request shapes as zod schemas: fastify validates with them and
 * @fastify/swagger documents them (one source for both). The response shapes are
 * the public contract's (@renderq/contract). A job's `input`
 * is checked against its model's own schema in the route, so its errors carry
 * paths such as `input.samples`.
 */
import { JobStatus, SingleJobEventType, WebhookEventType } from '@renderq/contract';
import { ID_PATTERNS } from '@renderq/shared';
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
  .array(SingleJobEventType)
  .min(1)
  .refine(unique, 'must not repeat an event')
  .describe("The events to send (the job's and tenant.budget_warning); all of them when left out.");

const batchWebhookEvents = z
  .array(WebhookEventType)
  .min(1)
  .refine(unique, 'must not repeat an event')
  .describe("The events to send (its jobs', batch.completed and tenant.budget_warning); all of them when left out.");

const priority = z
  .number()
  .int()
  .min(1)
  .max(1_000)
  .describe('1 runs first. Single jobs default to 1, batch jobs to 10.');

/** The longest start-by deadline, from now: 30 days. */
export const MAX_START_BY_SECONDS = 30 * 24 * 3600;

const startBy = z.iso
  .datetime({ offset: true, error: 'must be an RFC 3339 date-time such as 2025-01-31T12:00:00Z' })
  .describe(
    'Not submitted to Segmind by then (RFC 3339), the job ends `expired`, costing nothing; within 30 days. Not with `ttl_seconds`.',
  );

const ttlSeconds = z
  .number()
  .int()
  .min(1)
  .max(MAX_START_BY_SECONDS)
  .describe('A start-by deadline this many seconds after the request (1 to 30 days). Not with `start_by`.');

export const JobRequest = z.strictObject({
  model: z.string().describe('A Segmind model slug, see GET /v1/models.'),
  input: z.record(z.string(), z.unknown()).describe("The model's parameters, checked against its schema."),
  webhook_url: webhookUrl.optional(),
  webhook_events: jobWebhookEvents.optional(),
  metadata: metadata.optional(),
  priority: priority.optional(),
  start_by: startBy.optional(),
  ttl_seconds: ttlSeconds.optional(),
});
export type JobRequest = z.infer<typeof JobRequest>;

export const BatchJobRequest = z.strictObject({
  model: z.string(),
  input: z.record(z.string(), z.unknown()),
  metadata: metadata.optional(),
});
export type BatchJobRequest = z.infer<typeof BatchJobRequest>;

export const BatchRequest = z.strictObject({
  jobs: z.array(BatchJobRequest).min(1, 'must hold at least one job'),
  webhook_url: webhookUrl.optional(),
  webhook_events: batchWebhookEvents.optional(),
  metadata: metadata.optional(),
  priority: priority.optional(),
  start_by: startBy.optional().describe('For every job of the batch: see a job’s `start_by`.'),
  ttl_seconds: ttlSeconds.optional().describe('For every job of the batch: see a job’s `ttl_seconds`.'),
});
export type BatchRequest = z.infer<typeof BatchRequest>;

export const BatchQuery = z.strictObject({
  webhook_url: webhookUrl.optional(),
  webhook_events: z
    .string()
    .transform((value) => value.split(',').map((part) => part.trim()))
    .pipe(batchWebhookEvents)
    .optional()
    .describe('NDJSON batches: the events to send, comma-separated.'),
  priority: z.coerce.number().int().min(1).max(1_000).optional(),
  start_by: startBy.optional(),
  ttl_seconds: z.coerce.number().pipe(ttlSeconds).optional(),
});
export type BatchQuery = z.infer<typeof BatchQuery>;

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

/**
 * The headers of a creating request, as documented; loose, because fastify replaces the
 * request's headers with what the schema returns.
 */
export const creationHeaders = (what: string) =>
  z.looseObject({
    'idempotency-key': z.string().optional().describe(`Retries with the same key and body create one ${what} (24 h).`),
    // Never refused: a malformed trace context starts a new trace (W3C Trace Context says to ignore it).
    traceparent: z
      .string()
      .optional()
      .describe(
        `W3C Trace Context: with renderq's tracing on, the ${what}'s steps are spans of this trace ` +
          '(docs/observability.md). A malformed value is ignored.',
      ),
    tracestate: z.string().optional().describe('W3C Trace Context, with `traceparent`; kept on the request’s span.'),
  });

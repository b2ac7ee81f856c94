/** A batch as the API answers it and the batch.completed webhook carries it (docs/api.md). */
import { z } from 'zod';

/**
 * The largest batch: the API refuses bigger ones, and the configuration refuses an enqueue burst
 * smaller than it (which would refuse a valid batch forever).
 */
export const MAX_BATCH_JOBS = 10_000;

/**
 * `running` until its last job finishes; then `completed`, or `failed` when not one of its jobs
 * completed and at least one failed; `cancelled` once the batch was cancelled.
 */
export const BatchStatus = z
  .enum(['running', 'completed', 'failed', 'cancelled'])
  .describe(
    '`running` until its last job finishes; then `completed`, or `failed` when none of its jobs completed ' +
      '(they failed or expired, or some were cancelled one by one); `cancelled` once the batch was cancelled.',
  );
export type BatchStatus = z.infer<typeof BatchStatus>;

/** How many of a batch's jobs are in each status. */
const BatchCounts = z.object({
  total: z.number(),
  queued: z.number(),
  running: z.number(),
  completed: z.number(),
  failed: z.number(),
  cancelled: z.number(),
  expired: z.number().describe('Jobs whose start-by deadline passed before their submit.'),
});
/** @public — @renderq/client exports it. */
export type BatchCounts = z.infer<typeof BatchCounts>;

export const Batch = z
  .object({
    id: z.string(),
    status: BatchStatus,
    metadata: z.record(z.string(), z.unknown()).nullable(),
    counts: BatchCounts,
    cost: z
      .number()
      .nullable()
      .describe('Segmind credits its jobs have cost so far (cancelled ones included); null until one is known.'),
    created_at: z.string(),
    finished_at: z.string().nullable(),
    events_url: z
      .string()
      .describe(
        'Its event stream (GET /v1/batches/{id}/events) as a signed link that needs no key, expiring after ' +
          'OUTPUT_LINK_TTL_SECONDS.',
      ),
  })
  .describe('A batch.');
export type Batch = z.infer<typeof Batch>;

/** The answer to creating a batch: the batch, and its jobs' ids in request order. */
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
export type CreatedBatch = z.infer<typeof CreatedBatch>;

/**
 * Bulk actions on jobs (docs/api.md, "Bulk actions"): replay or cancel every job a filter or a
 * list of ids chooses — estimated first with `dry_run`, then run as an operation whose progress
 * can be read and which can be aborted.
 */
import { z } from 'zod';
import { ErrorCode, JobStatus } from './job.js';

/** The most ids one request may name. */
export const MAX_BULK_IDS = 10_000;

/** The most jobs one bulk action may act on: past it, the request is refused with the count to narrow. */
export const MAX_BULK_JOBS = 100_000;

export const BulkAction = z.enum(['replay', 'cancel']);
export type BulkAction = z.infer<typeof BulkAction>;

const Timestamp = z.iso.datetime({ offset: true });

export const BulkFilter = z
  .strictObject({
    status: JobStatus.optional(),
    error_code: ErrorCode.optional().describe("The failed jobs' error code."),
    model: z.string().min(1).max(128).optional(),
    batch_id: z.string().max(64).optional(),
    created_after: Timestamp.optional().describe('RFC 3339: jobs created strictly after it.'),
    created_before: Timestamp.optional().describe('RFC 3339: jobs created strictly before it.'),
    tenant: z
      .string()
      .min(1)
      .max(128)
      .optional()
      .describe("Operators only: one tenant's jobs (without it, every configured tenant's)."),
  })
  .describe('Which jobs: every job matching all the fields given. `{}` chooses every job the caller may act on.');
export type BulkFilter = z.infer<typeof BulkFilter>;

export const BulkRequest = z
  .strictObject({
    filter: BulkFilter.optional(),
    ids: z
      .array(z.string().max(64))
      .min(1)
      .max(MAX_BULK_IDS)
      .optional()
      .describe(
        `Job ids (at most ${MAX_BULK_IDS.toLocaleString('en-US')}); ids of jobs the caller may not see count as not found.`,
      ),
    dry_run: z.boolean().default(false).describe('Answer what would be done, and do nothing.'),
  })
  .describe('Exactly one of `filter` and `ids`.');
/** What a caller sends (`dry_run` may be left out). */
export type BulkRequest = z.input<typeof BulkRequest>;

/** Why a chosen job is left alone. */
const BulkSkipped = z
  .object({
    not_found: z.number().int().describe('Ids that name no job the caller may act on.'),
    not_eligible: z
      .number()
      .int()
      .describe('Replay: jobs not failed, cancelled or expired. Cancel: jobs already finished.'),
    already_replayed: z.number().int().describe('Replay: jobs replayed before (a job is replayed at most once).'),
  })
  .describe('The chosen jobs left alone, by reason.');

export const BulkEstimate = z
  .object({
    dry_run: z.literal(true),
    action: BulkAction,
    count: z.number().int().describe('The jobs it would act on.'),
    estimated_cost: z
      .number()
      .describe(
        "Replay: what the new jobs would reserve against their tenants' spend (USD; models without a price count 0). " +
          'Cancel: 0 (a request already at Segmind is still charged what Segmind charges).',
      ),
    skipped: BulkSkipped,
  })
  .describe('What a bulk action would do; nothing was changed.');
export type BulkEstimate = z.infer<typeof BulkEstimate>;

export const BulkOperationStatus = z
  .enum(['running', 'aborting', 'completed', 'aborted', 'failed'])
  .describe(
    '`running`, or `aborting` once asked to stop (it ends the step under way); then `completed` (every chosen ' +
      'job done), `aborted`, or `failed` (see `error`).',
  );
export type BulkOperationStatus = z.infer<typeof BulkOperationStatus>;

export const BulkOperation = z
  .object({
    id: z.string(),
    action: BulkAction,
    status: BulkOperationStatus,
    total: z.number().int().describe('The jobs chosen when it started.'),
    processed: z.number().int().describe('The chosen jobs dealt with so far: acted on, or left alone.'),
    acted: z.number().int().describe('Jobs replayed (a new job made for each) or cancelled.'),
    skipped: z.number().int().describe('Chosen jobs left alone: replayed meanwhile, finished meanwhile, or gone.'),
    estimated_cost: z.number().describe('The dry run’s `estimated_cost` for the jobs chosen when it started (USD).'),
    reserved_cost: z
      .number()
      .describe('Replay: what the new jobs made so far reserved against their tenants’ spend (USD).'),
    waiting: z
      .string()
      .nullable()
      .describe('Why it is waiting, when it is: a tenant’s backlog quota, spend budget or enqueue rate is full.'),
    error: z.string().nullable().describe('Why it failed.'),
    created_at: z.string(),
    finished_at: z.string().nullable(),
  })
  .describe('A bulk action under way or ended. Replays are linked both ways: `replay_of` and `replayed_by`.');
export type BulkOperation = z.infer<typeof BulkOperation>;

/**
 * A job's internal stage (docs/architecture.md, "The lifecycle") and the public
 * status derived from it. Every switch over a stage is exhaustive.
 */
import { isFinishedStatus, JobError, type JobStatus } from '@renderq/contract';
import { z } from 'zod';

const isoTime = z.iso.datetime();

export const JobStage = z.discriminatedUnion('name', [
  z.object({
    name: z.literal('queued'),
    /**
     * Since when Segmind has not taken this job's submits (5xx, or no connection: no request
     * started), in a run of such; it keeps trying until SEGMIND_OUTAGE_WAIT_SECONDS after.
     */
    unavailable_since: isoTime.optional(),
  }),
  /**
   * A submit is being made. A job found here by another worker had its worker stall or die: it waits
   * out AMBIGUOUS_SUBMIT_WAIT_MS from `since`, then its submit is ambiguous.
   */
  z.object({
    name: z.literal('submitting'),
    since: isoTime,
    /**
     * This submit's own id: the moves out of it are refused once the job is in another submit
     * (lifecycle.ts, `fencedBySubmit`). Absent on a job that entered its submit under an older version.
     */
    submit_id: z.string().min(1).optional(),
  }),
  /** Segmind accepted the request; only polling remains, never a second submit. */
  z.object({
    name: z.literal('polling'),
    request_id: z.string().min(1),
    status_url: z.url(),
    response_url: z.url(),
    submitted_at: isoTime,
    polls: z.number().int().min(0),
    /** When the latest poll was answered (not yet final): the next poll's span starts there. */
    checked_at: isoTime.optional(),
  }),
  /** The result is in hand; outputs are being downloaded and stored. */
  z.object({
    name: z.literal('storing'),
    request_id: z.string().min(1),
    /** Where each output comes from: URLs, data URIs or base64, in output order. */
    sources: z.array(z.string()),
    /** Store attempts that failed and will be retried (storage or download outages). */
    attempts: z.number().int().min(0),
  }),
  z.object({ name: z.literal('completed') }),
  z.object({ name: z.literal('failed'), error: JobError }),
  z.object({ name: z.literal('cancelled') }),
  /** Its start-by deadline passed before its submit: never sent to Segmind. */
  z.object({ name: z.literal('expired') }),
]);
export type JobStage = z.infer<typeof JobStage>;
export type StageName = JobStage['name'];

/** The public status of each stage; a job waiting out a pause is still `queued`. */
export const STATUS_OF_STAGE: Readonly<Record<StageName, JobStatus>> = {
  queued: 'queued',
  submitting: 'running',
  polling: 'running',
  storing: 'running',
  completed: 'completed',
  failed: 'failed',
  cancelled: 'cancelled',
  expired: 'expired',
};

export const STAGE_NAMES = Object.keys(STATUS_OF_STAGE) as StageName[];

export function statusOf(stage: StageName): JobStatus {
  return STATUS_OF_STAGE[stage];
}

/** Whether nothing moves a job on from this stage: its public status is a finished one (the contract's). */
export function isFinal(stage: StageName): boolean {
  return isFinishedStatus(STATUS_OF_STAGE[stage]);
}

export function assertNever(value: never): never {
  throw new Error(`unexpected value: ${JSON.stringify(value)}`);
}

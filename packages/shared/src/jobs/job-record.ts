/**
 * The job record kept in Redis (independent of BullMQ's own retention) and the
 * public job of docs/api.md derived from it.
 */
import { type Job, JobError, type JobInputFile, WebhookEventType } from '@renderq/contract';
import { z } from 'zod';
import { redactUrl } from '../observability/redact-url.js';
import { traceIdOf } from '../observability/traces.js';
import { StoredInput, StoredOutput } from '../storage/stored-objects.js';
import { JobStage, statusOf } from './stage.js';

/** A request at Segmind that the job was cancelled during: followed until Segmind finishes it, for its cost. */
export const CancelledRequest = z.object({
  request_id: z.string().min(1),
  status_url: z.url(),
  response_url: z.url(),
  submitted_at: z.iso.datetime(),
  polls: z.number().int().min(0),
});
export type CancelledRequest = z.infer<typeof CancelledRequest>;

export const JobRecord = z.object({
  id: z.string(),
  tenant: z.string(),
  model: z.string(),
  /** What the caller sent, defaults filled in, without the fields of `inputs`. */
  input: z.record(z.string(), z.unknown()),
  /** Input images stored at enqueue (their fields are not in `input`). */
  inputs: z.array(StoredInput),
  metadata: z.record(z.string(), z.unknown()).nullable(),
  batch_id: z.string().nullable(),
  webhook_url: z.string().nullable(),
  /** The events its webhook wants; null: all. */
  webhook_events: z.array(WebhookEventType).nullable(),
  /** BullMQ priority: 1 runs first. */
  priority: z.number().int().min(1),
  stage: JobStage,
  segmind_request_id: z.string().nullable(),
  outputs: z.array(StoredOutput),
  error: JobError.nullable(),
  cost: z.number().nullable(),
  /** Set while a cancelled job's request is still at Segmind and its cost not yet known. */
  cancelled_request: CancelledRequest.nullable(),
  created_at: z.string(),
  started_at: z.string().nullable(),
  finished_at: z.string().nullable(),
  /** The W3C `traceparent` of the request that created the job: its steps' spans go under it. Null: not traced. */
  trace_parent: z.string().nullable(),
  /** Its start-by deadline (ISO 8601): not submitted by then, it expires. */
  start_by: z.string().nullable(),
  /** The finished job this one runs again (a bulk replay made it). */
  replay_of: z.string().nullable(),
  /** The job that runs this one again: a job is replayed at most once. */
  replayed_by: z.string().nullable(),
});
export type JobRecord = z.infer<typeof JobRecord>;

/** The public job and output: the contract's types, which the API, webhooks and the client share. */
export type PublicJob = Job;

/** What the API expects of a job not yet finished (docs/api.md); all null where nothing can be told. */
export type JobEstimate = Pick<Job, 'queue_position' | 'estimated_start_at' | 'estimated_finish_at'>;
export const NO_ESTIMATE: JobEstimate = { queue_position: null, estimated_start_at: null, estimated_finish_at: null };

export function toPublicJob(
  record: JobRecord,
  outputUrl: (output: StoredOutput) => string,
  inputUrl: (input: StoredInput) => string = () => '',
  estimate: JobEstimate = NO_ESTIMATE,
  eventsUrl = '',
): PublicJob {
  const input: Record<string, unknown> = { ...record.input };
  for (const stored of record.inputs) {
    const file: JobInputFile = {
      url: inputUrl(stored),
      sha256: stored.sha256,
      content_type: stored.content_type,
      size: stored.size,
    };
    input[stored.field] = file;
  }
  return {
    id: record.id,
    model: record.model,
    status: statusOf(record.stage.name),
    input,
    metadata: record.metadata,
    batch_id: record.batch_id,
    // A URL may carry credentials (user:password, a token in its query): the view never shows them.
    webhook_url: record.webhook_url === null ? null : redactUrl(record.webhook_url),
    webhook_events: record.webhook_events,
    priority: record.priority,
    segmind_request_id: record.segmind_request_id,
    outputs: record.outputs.map((output) => {
      const { index: _index, ...shown } = output;
      return { url: outputUrl(output), ...shown };
    }),
    error: record.error,
    cost: record.cost,
    created_at: record.created_at,
    start_by: record.start_by,
    started_at: record.started_at,
    finished_at: record.finished_at,
    ...estimate,
    events_url: eventsUrl,
    trace_id: traceIdOf(record.trace_parent),
    replay_of: record.replay_of,
    replayed_by: record.replayed_by,
  };
}

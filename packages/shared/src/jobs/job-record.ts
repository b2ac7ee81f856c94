/**
 * The job record kept in Redis (independent of BullMQ's own retention) and the
 * public job of docs/api.md derived from it.
 */
import type { Job, JobOutput } from '@renderq/client';
import { z } from 'zod';
import { WebhookEventType } from '../webhooks/events.js';
import { JobError } from './error-codes.js';
import { JobStage, statusOf } from './stage.js';

export const StoredOutput = z.object({
  index: z.number().int().min(0),
  storage_key: z.string(),
  content_type: z.string(),
  size: z.number().int().min(0),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});
export type StoredOutput = z.infer<typeof StoredOutput>;

export const JobRecord = z.object({
  id: z.string(),
  tenant: z.string(),
  model: z.string(),
  input: z.record(z.string(), z.unknown()),
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
  created_at: z.string(),
  started_at: z.string().nullable(),
  finished_at: z.string().nullable(),
});
export type JobRecord = z.infer<typeof JobRecord>;

/** The public job and output: the client's types, so the two cannot drift apart. */
export type PublicJob = Job;
export type PublicOutput = JobOutput;

export function toPublicJob(record: JobRecord, outputUrl: (output: StoredOutput) => string): PublicJob {
  return {
    id: record.id,
    model: record.model,
    status: statusOf(record.stage.name),
    input: record.input,
    metadata: record.metadata,
    batch_id: record.batch_id,
    segmind_request_id: record.segmind_request_id,
    outputs: record.outputs.map((output) => {
      const { index: _index, ...shown } = output;
      return { url: outputUrl(output), ...shown };
    }),
    error: record.error,
    cost: record.cost,
    created_at: record.created_at,
    started_at: record.started_at,
    finished_at: record.finished_at,
  };
}

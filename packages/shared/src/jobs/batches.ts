/**
 * Batches: creating one (its jobs first, the batch hash last — a batch that exists is
 * complete, and recovery drops the records of one whose creation was cut off), cancelling
 * one, and reading one and its jobs a page at a time.
 */

import type { WebhookEventType } from '@renderq/contract';
import { PRIORITY } from '../queues.js';
import { batchJobsKey, batchKey, jobKey } from '../redis/keys.js';
import { JOB_EVENT_TYPES } from '../webhooks/events.js';
import { type BatchRecord, batchFromHash } from './batch-record.js';
import type { JobCreator, NewJob } from './create-jobs.js';
import { newId } from './ids.js';
import { readOwnedHash } from './job-reads.js';
import type { JobRecord } from './job-record.js';
import { recordFromHash } from './record-hash.js';
import type { StoreContext } from './store-context.js';

export interface NewBatch {
  /** Given when the caller must know the id before the batch exists (an idempotency claim names it). */
  readonly id?: string;
  readonly tenant: string;
  readonly metadata?: Record<string, unknown> | null;
  readonly webhookUrl?: string | null;
  /** The events the batch's webhook wants (job events of its jobs, and batch.completed); unset: all. */
  readonly webhookEvents?: readonly WebhookEventType[] | null;
  readonly priority?: number;
  /** The `traceparent` of the request creating it, when traced (its batch.completed webhook goes under it). */
  readonly traceParent?: string | null;
}

export interface CreatedBatch {
  readonly batch: BatchRecord;
  readonly jobIds: string[];
  /** Settles once BullMQ holds every job; a job this process fails to enqueue is enqueued by recovery. */
  readonly enqueued: Promise<void>;
}

/**
 * Records a batch and starts enqueueing it. It returns at the commit point (the batch
 * hash written after every job record) — the batch is durably accepted — with `enqueued`
 * settling once BullMQ holds every job.
 */
export async function createBatch(
  ctx: StoreContext,
  creator: JobCreator,
  batch: NewBatch,
  jobs: readonly NewJob[],
): Promise<CreatedBatch> {
  if (jobs.length === 0) throw new Error('a batch needs at least one job');
  const id = batch.id ?? newId('bat');
  const now = new Date().toISOString();
  const priority = batch.priority ?? PRIORITY.batch;
  const fields = {
    id,
    tenant: batch.tenant,
    status: 'running',
    metadata: JSON.stringify(batch.metadata ?? null),
    webhook_url: batch.webhookUrl ?? '',
    webhook_events: batch.webhookEvents?.join(',') ?? '',
    created_at: now,
    finished_at: '',
    total: String(jobs.length),
    queued: String(jobs.length),
    running: '0',
    completed: '0',
    failed: '0',
    cancelled: '0',
    expired: '0',
    finished: '0',
    ...(batch.traceParent ? { trace_parent: batch.traceParent } : {}),
  };
  // A batch's jobs send their events to the batch's webhook (none when it wants only batch.completed).
  const jobEvents = batch.webhookEvents?.filter((type) => (JOB_EVENT_TYPES as readonly string[]).includes(type));
  const withWebhook = jobs.map((job) => ({
    ...job,
    webhookUrl: jobEvents?.length === 0 ? null : (batch.webhookUrl ?? null),
    webhookEvents: jobEvents ?? null,
  }));
  const records = await creator.record(withWebhook, id, priority);
  // `cost` is left out until one of its jobs has one (HINCRBYFLOAT makes it).
  await ctx.redis.hset(batchKey(ctx.prefix, id), fields);
  const enqueued = creator.enqueue(records);
  // Observed here so that a failure is never unhandled; callers that care await it.
  enqueued.catch(() => undefined);
  const created = await readBatch(ctx, id);
  if (!created) throw new Error(`batch ${id} vanished while being created`);
  return { batch: created, jobIds: records.map((r) => r.id), enqueued };
}

/** Marks a running batch cancelled; false when it had already finished. Its jobs are cancelled one by one. */
export async function markBatchCancelled(ctx: StoreContext, id: string): Promise<boolean> {
  return (await ctx.redis.renderqCancelBatch(batchKey(ctx.prefix, id))) === 1;
}

export async function readBatch(ctx: StoreContext, id: string): Promise<BatchRecord | undefined> {
  const hash = await ctx.redis.hgetall(batchKey(ctx.prefix, id));
  return hash.id ? batchFromHash(hash) : undefined;
}

/** A tenant's own batch, or undefined (see readOwnedJob). */
export async function readOwnedBatch(ctx: StoreContext, tenant: string, id: string): Promise<BatchRecord | undefined> {
  const hash = await readOwnedHash(ctx, batchKey(ctx.prefix, id), tenant);
  return hash ? batchFromHash(hash) : undefined;
}

/** The ids of a batch's jobs in creation order, a page at a time. */
export function batchJobIds(ctx: StoreContext, batchId: string, start: number, count: number): Promise<string[]> {
  return ctx.redis.lrange(batchJobsKey(ctx.prefix, batchId), start, start + count - 1);
}

/** A batch's jobs in creation order, read a page at a time (never the whole batch at once). */
export async function* batchJobs(ctx: StoreContext, batchId: string, pageSize: number): AsyncGenerator<JobRecord> {
  for (let start = 0; ; start += pageSize) {
    const ids = await batchJobIds(ctx, batchId, start, pageSize);
    if (ids.length === 0) return;
    const pipeline = ctx.redis.pipeline();
    for (const id of ids) pipeline.hgetall(jobKey(ctx.prefix, id));
    const results = (await pipeline.exec()) ?? [];
    for (const [error, hash] of results) {
      if (error) throw error;
      const fields = hash as Record<string, string>;
      if (fields.id) yield recordFromHash(fields);
    }
    if (ids.length < pageSize) return;
  }
}

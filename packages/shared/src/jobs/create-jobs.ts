/**
 * Creating jobs, and the outbox that makes it safe: a job is never recorded but never
 * run, nor running without a record. The records, their entries in the "unenqueued" set,
 * among the unfinished jobs and in their tenant's index, and their reservations of their
 * tenants' spend are written by one script call (create-jobs-n.lua), then the BullMQ jobs are added
 * under the same ids, then the unenqueued entries are removed. recovery.ts finishes whatever a crash
 * interrupted. A replay (a bulk action's) is recorded by the same call that marks its job replayed.
 */

import type { WebhookEventType } from '@renderq/contract';
import { PRIORITY, QUEUE_NAMES } from '../queues.js';
import {
  backlogClaimsKey,
  backlogTenantsKey,
  batchJobsKey,
  jobKey,
  tenantBacklogKey,
  tenantJobsKey,
  tenantSpendKey,
  unenqueuedKey,
  unfinishedJobsKey,
} from '../redis/keys.js';
import type { StoredInput } from '../storage/stored-objects.js';
import { enterFairQueue } from './fair-share.js';
import { newId } from './ids.js';
import type { JobRecord } from './job-record.js';
import { hashFromRecord } from './record-hash.js';
import { spendPeriodsAt } from './spend.js';
import type { StoreContext } from './store-context.js';
import { tenantIndexEntry } from './tenant-index.js';

export interface NewJob {
  /** Given when the caller must know the id before the job exists (an idempotency claim names it). */
  readonly id?: string;
  readonly tenant: string;
  readonly model: string;
  /** Validated input, defaults filled in, without the fields of `inputs`. */
  readonly input: Record<string, unknown>;
  /** Input images already stored under this job's id (which must then be given). */
  readonly inputs?: readonly StoredInput[];
  readonly metadata?: Record<string, unknown> | null;
  readonly webhookUrl?: string | null;
  /** The events the webhook wants; unset: all. */
  readonly webhookEvents?: readonly WebhookEventType[] | null;
  /** BullMQ priority, 1 first. @defaultValue PRIORITY.single (PRIORITY.batch inside a batch) */
  readonly priority?: number;
  /** The admission claim that admitted the job (admission.ts), which recording it uses up. */
  readonly claim?: string;
  /** What the job reserves of its tenant's spend, in millionths of a USD. @defaultValue 0 */
  readonly reserveMicros?: number;
  /** The UTC day (YYYY-MM-DD) its spend counts in. @defaultValue the day it is recorded */
  readonly spendDay?: string;
  /** The `traceparent` of the request creating it, when traced: its steps' spans go under it. */
  readonly traceParent?: string | null;
  /** Its start-by deadline (ISO 8601): not submitted by then, it ends `expired`. */
  readonly startBy?: string | null;
  /** The finished job it runs again (a bulk replay): recorded only if that job has not been replayed yet. */
  readonly replayOf?: string;
}

interface PendingCreate {
  readonly job: NewJob;
  readonly resolve: (record: JobRecord) => void;
  readonly reject: (error: unknown) => void;
}

export class JobCreator {
  readonly #ctx: StoreContext;
  readonly #confirmations: string[] = [];
  readonly #pending: PendingCreate[] = [];

  constructor(ctx: StoreContext) {
    this.#ctx = ctx;
  }

  /**
   * Records and enqueues one job. Jobs created in the same tick (concurrent API
   * requests) are written together: one script call and one bulk add for all.
   */
  create(job: NewJob): Promise<JobRecord> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ job, resolve, reject });
      if (this.#pending.length === 1) setImmediate(() => void this.#flush());
    });
  }

  async #flush(): Promise<void> {
    const pending = this.#pending.splice(0);
    try {
      const records = await this.record(
        pending.map((p) => p.job),
        null,
        PRIORITY.single,
      );
      await this.enqueue(records);
      for (const [i, p] of pending.entries()) p.resolve(records[i] as JobRecord);
    } catch (error) {
      for (const p of pending) p.reject(error);
    }
  }

  /**
   * Records and enqueues replays of finished jobs: only those whose job has not been replayed yet
   * (by anyone, ever) are recorded, and returned.
   */
  async createReplays(jobs: readonly NewJob[]): Promise<JobRecord[]> {
    const { records, recorded } = await this.#write(jobs, null, PRIORITY.single);
    const created = records.filter((_, i) => recorded[i]);
    await this.enqueue(created);
    return created;
  }

  /** Writes the records (a chunk per script call, all sent at once), still unenqueued. */
  async record(jobs: readonly NewJob[], batchId: string | null, priority: number): Promise<JobRecord[]> {
    return (await this.#write(jobs, batchId, priority)).records;
  }

  async #write(
    jobs: readonly NewJob[],
    batchId: string | null,
    priority: number,
  ): Promise<{ records: JobRecord[]; recorded: boolean[] }> {
    const { redis, prefix, chunkSize } = this.#ctx;
    const nowMs = Date.now();
    const now = new Date(nowMs).toISOString();
    const today = spendPeriodsAt(nowMs).day;
    const records = jobs.map((job) => newRecord(job, batchId, job.priority ?? priority, now));
    const leading = [
      unenqueuedKey(prefix),
      unfinishedJobsKey(prefix),
      backlogTenantsKey(prefix),
      backlogClaimsKey(prefix),
      ...(batchId ? [batchJobsKey(prefix, batchId)] : []),
    ];
    const calls: Promise<number[]>[] = [];
    for (let start = 0; start < records.length; start += chunkSize) {
      const chunk = records.slice(start, start + chunkSize);
      const keys = chunk.flatMap((record) => [
        jobKey(prefix, record.id),
        tenantJobsKey(prefix, record.tenant),
        tenantBacklogKey(prefix, record.tenant),
        tenantSpendKey(prefix, record.tenant),
        jobKey(prefix, record.replay_of ?? record.id),
      ]);
      const encoded = chunk.map((record, i) => {
        const job = jobs[start + i];
        return JSON.stringify([
          record.id,
          record.tenant,
          job?.claim ?? '',
          tenantIndexEntry(nowMs, record.id),
          String(job?.reserveMicros ?? 0),
          job?.spendDay ?? today,
          record.replay_of ?? '',
          ...Object.entries(hashFromRecord(record)).flat(),
        ]);
      });
      calls.push(
        redis.renderqCreateJobs(
          leading.length + keys.length,
          ...leading,
          ...keys,
          String(nowMs),
          batchId ? '1' : '0',
          ...encoded,
        ),
      );
    }
    // Sent together and run in order, so a batch's list keeps creation order.
    const recorded = (await Promise.all(calls)).flat().map((answer) => answer === 1);
    return { records, recorded };
  }

  /**
   * Adds recorded jobs to the render queue — or, with fair share, to their tenants' ready sets —
   * a few chunks in flight at once, and confirms them.
   */
  async enqueue(records: readonly JobRecord[]): Promise<void> {
    const { queue, chunkSize, fairShare } = this.#ctx;
    const chunks: JobRecord[][] = [];
    for (let start = 0; start < records.length; start += chunkSize) {
      chunks.push(records.slice(start, start + chunkSize));
    }
    // A few chunks in flight at once keep Redis busy without one huge transaction.
    const next = async (): Promise<void> => {
      const chunk = chunks.shift();
      if (!chunk) return;
      if (fairShare) {
        // Leaving the unenqueued jobs is part of the same script: nothing to confirm.
        await enterFairQueue(this.#ctx, chunk);
        return next();
      }
      await queue.addBulk(
        chunk.map((record) => ({
          name: QUEUE_NAMES.render,
          data: { jobId: record.id },
          opts: { jobId: record.id, priority: record.priority },
        })),
      );
      this.#confirm(chunk.map((r) => r.id));
      return next();
    };
    await Promise.all(Array.from({ length: Math.min(4, chunks.length) }, next));
  }

  /**
   * Removes enqueued jobs from the unenqueued set, many at once: a confirmation that
   * comes late only means recovery looks at a job BullMQ already has, which is a no-op.
   */
  #confirm(ids: readonly string[]): void {
    this.#confirmations.push(...ids);
    if (this.#confirmations.length > ids.length) return;
    queueMicrotask(() => {
      const batch = this.#confirmations.splice(0);
      this.#ctx.redis.zrem(unenqueuedKey(this.#ctx.prefix), ...batch).catch(() => {
        // Left for recoverUnenqueued, which re-adds under the same id: harmless.
      });
    });
  }
}

function newRecord(job: NewJob, batchId: string | null, priority: number, now: string): JobRecord {
  return {
    id: job.id ?? newId('job'),
    tenant: job.tenant,
    model: job.model,
    input: job.input,
    inputs: job.inputs ? [...job.inputs] : [],
    metadata: job.metadata ?? null,
    batch_id: batchId,
    webhook_url: job.webhookUrl ?? null,
    webhook_events: job.webhookEvents ? [...job.webhookEvents] : null,
    priority,
    stage: { name: 'queued' },
    segmind_request_id: null,
    outputs: [],
    error: null,
    cost: null,
    cancelled_request: null,
    created_at: now,
    started_at: null,
    finished_at: null,
    trace_parent: job.traceParent ?? null,
    start_by: job.startBy ?? null,
    replay_of: job.replayOf ?? null,
    replayed_by: null,
  };
}

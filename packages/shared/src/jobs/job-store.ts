/**
 * The job store: the one module through which the API and the worker create, read
 * and move jobs. Records live in Redis hashes of their own (not in BullMQ's job
 * data), so a finished job stays readable for the retention period.
 *
 * Creating a job never leaves it recorded but never run, nor running without a
 * record: the record and an entry in the "unenqueued" set are written in one
 * MULTI, then the BullMQ job is added under the same id, then the entry is
 * removed. `recoverUnenqueued` finishes whatever a crash interrupted; adding a
 * BullMQ job under an existing id is a no-op, and a worker ignores jobs whose
 * record is already final, so recovery is safe to run at any time.
 *
 * Every unfinished job is also in the unfinished jobs index, kept by the same scripts,
 * so the worker's reconciler can find one whose BullMQ job is lost later (a queue
 * emptied from a dashboard, a failover) without scanning every record.
 */

import { randomUUID } from 'node:crypto';
import type { BatchStatus } from '@renderq/contract';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { PRIORITY, QUEUE_NAMES, type RenderJobData } from '../queues.js';
import type { WebhookEventStore } from '../webhooks/event-store.js';
import { JOB_EVENT_TYPES, type WebhookEventType } from '../webhooks/events.js';
import { FOLLOW_CANCELLED_LUA, SETTLE_CANCELLED_LUA } from './cancelled-request-scripts.js';
import type { JobError } from './error-codes.js';
import { newId } from './ids.js';
import type { CancelledRequest, JobRecord, StoredInput, StoredOutput } from './job-record.js';
import {
  batchJobsKey,
  batchKey,
  eventOutboxKey,
  jobKey,
  pendingEventsKey,
  tenantJobsKey,
  unenqueuedKey,
  unfinishedJobsKey,
} from './keys.js';
import { glanceAtQueueJob, pipelineAnswers, type QueueJobGlance, readQueueJobGlance } from './queue-job-glance.js';
import { hashFromRecord, recordFromHash } from './record-hash.js';
import { isFinal, type JobStage, type JobStatus, STATUS_OF_STAGE, type StageName } from './stage.js';
import { type JobListPage, type JobListRequest, listTenantJobs, tenantIndexEntry } from './tenant-index.js';
import { TRANSITION_LUA } from './transition-script.js';

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
}

export interface NewBatch {
  readonly tenant: string;
  readonly metadata?: Record<string, unknown> | null;
  readonly webhookUrl?: string | null;
  /** The events the batch's webhook wants (job events of its jobs, and batch.completed); unset: all. */
  readonly webhookEvents?: readonly WebhookEventType[] | null;
  readonly priority?: number;
}

export interface BatchRecord {
  readonly id: string;
  readonly tenant: string;
  readonly status: BatchStatus;
  readonly metadata: Record<string, unknown> | null;
  readonly webhook_url: string | null;
  readonly webhook_events: readonly WebhookEventType[] | null;
  readonly counts: Readonly<Record<JobStatus, number>> & { readonly total: number };
  /** Segmind credits its jobs have cost so far; null until one is known. */
  readonly cost: number | null;
  readonly created_at: string;
  readonly finished_at: string | null;
}

/** What a stage move may change besides the stage. */
export interface JobChanges {
  readonly segmind_request_id?: string;
  readonly outputs?: readonly StoredOutput[];
  readonly error?: JobError;
  readonly cost?: number;
}

export type TransitionResult =
  | {
      readonly ok: true;
      readonly previous: StageName;
      readonly batchFinished: boolean;
      /** Webhook events the move recorded (already on their way to the webhooks queue). */
      readonly events: readonly string[];
    }
  | { readonly ok: false; readonly reason: 'not_found' }
  | { readonly ok: false; readonly reason: 'wrong_stage'; readonly current: StageName };

export interface JobStoreOptions {
  readonly redis: Redis;
  readonly queue: Queue<RenderJobData>;
  /** RENDERQ_PREFIX; also the BullMQ prefix. */
  readonly prefix: string;
  /** How long finished records stay readable. @defaultValue 7 days */
  readonly retentionMs?: number;
  /** Jobs and BullMQ adds per round trip when creating a batch. @defaultValue 500 */
  readonly chunkSize?: number;
  /** Where webhook events go; unset (no WEBHOOK_SECRET): finishing jobs records no events. */
  readonly events?: WebhookEventStore;
}

/** An unfinished job as the reconciler first sees it: its record and its render-queue job at a glance. */
export interface UnfinishedJobGlance {
  readonly id: string;
  /** undefined: the record is gone. */
  readonly stage: StageName | undefined;
  /** Cancelled, and still following its request at Segmind for its cost (on the poll queue). */
  readonly following: boolean;
  readonly priority: number;
  readonly batchId: string | null;
  /** The render queue's BullMQ job under the same id (where a queued or submitting job lives). */
  readonly render: QueueJobGlance;
}

type TransitionCommand = (...keysAndArgs: string[]) => Promise<[number, string, number, string]>;

const SCRIPT_NAME = 'renderqTransitionV5';
const CREATE_SCRIPT = 'renderqCreateV4';
const FOLLOW_SCRIPT = 'renderqFollowCancelledV1';
const SETTLE_SCRIPT = 'renderqSettleCancelledV1';

/**
 * Writes job records, their "not yet confirmed in BullMQ" entries, their entries among
 * the unfinished jobs and in their tenant's index together, many per call.
 * KEYS[1] the unenqueued set, KEYS[2] the batch's job list ('' for none), KEYS[3] the unfinished jobs,
 * then two per job, in ARGV's order: KEYS[2i + 2] its hash, KEYS[2i + 3] its tenant's index (i from 1)
 * ARGV[1] now (ms), ARGV[2…] one job each: a JSON array of strings
 *         [id, tenant index entry, field, value, …] (strings only, so cjson changes nothing)
 */
const CREATE_LUA = `
for i = 2, #ARGV do
  local job = cjson.decode(ARGV[i])
  local id = job[1]
  local k = 2 * i
  redis.call('HSET', KEYS[k], unpack(job, 3))
  redis.call('ZADD', KEYS[k + 1], 0, job[2])
  redis.call('ZADD', KEYS[1], ARGV[1], id)
  redis.call('ZADD', KEYS[3], ARGV[1], id)
  if KEYS[2] ~= '' then redis.call('RPUSH', KEYS[2], id) end
end
return #ARGV - 1
`;

/** KEYS[1] a job or batch hash; ARGV[1] a tenant. Returns the hash (flat) only when it is that tenant's. */
const OWNED_HGETALL_LUA = `
if redis.call('HGET', KEYS[1], 'tenant') ~= ARGV[1] then return false end
return redis.call('HGETALL', KEYS[1])
`;

export class JobStore {
  readonly #redis: Redis;
  readonly #queue: Queue<RenderJobData>;
  readonly #prefix: string;
  readonly #retentionMs: number;
  readonly #chunkSize: number;
  readonly #events: WebhookEventStore | undefined;
  readonly #confirmations: string[] = [];
  readonly #pendingCreates: { job: NewJob; resolve: (record: JobRecord) => void; reject: (error: unknown) => void }[] =
    [];

  constructor(options: JobStoreOptions) {
    this.#redis = options.redis;
    this.#queue = options.queue;
    this.#prefix = options.prefix;
    this.#retentionMs = options.retentionMs ?? 7 * 24 * 3600 * 1000;
    this.#chunkSize = options.chunkSize ?? 500;
    this.#events = options.events;
    if (!(SCRIPT_NAME in this.#redis)) {
      this.#redis.defineCommand(SCRIPT_NAME, { numberOfKeys: 4, lua: TRANSITION_LUA });
      // Two keys per job: the number of keys is given with each call.
      this.#redis.defineCommand(CREATE_SCRIPT, { lua: CREATE_LUA });
      this.#redis.defineCommand(FOLLOW_SCRIPT, { numberOfKeys: 2, lua: FOLLOW_CANCELLED_LUA });
      this.#redis.defineCommand(SETTLE_SCRIPT, { numberOfKeys: 3, lua: SETTLE_CANCELLED_LUA });
    }
  }

  /**
   * Records and enqueues one job. Jobs created in the same tick (concurrent API
   * requests) are written together: one script call and one bulk add for all.
   */
  create(job: NewJob): Promise<JobRecord> {
    return new Promise((resolve, reject) => {
      this.#pendingCreates.push({ job, resolve, reject });
      if (this.#pendingCreates.length === 1) setImmediate(() => void this.#flushCreates());
    });
  }

  async #flushCreates(): Promise<void> {
    const pending = this.#pendingCreates.splice(0);
    try {
      const records = await this.#createMany(
        pending.map((p) => p.job),
        null,
        PRIORITY.single,
      );
      for (const [i, p] of pending.entries()) p.resolve(records[i] as JobRecord);
    } catch (error) {
      for (const p of pending) p.reject(error);
    }
  }

  /**
   * Records a batch and starts enqueueing it. The batch hash is written after every
   * job record: a batch that exists is complete (recovery drops the records of one
   * whose creation was cut off). It returns at that commit point — the batch is
   * durably accepted — with `enqueued` settling once BullMQ holds every job; a job
   * this process fails to enqueue is enqueued by recovery from the unenqueued set.
   */
  async createBatch(
    batch: NewBatch,
    jobs: readonly NewJob[],
  ): Promise<{ batch: BatchRecord; jobIds: string[]; enqueued: Promise<void> }> {
    if (jobs.length === 0) throw new Error('a batch needs at least one job');
    const id = newId('bat');
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
      finished: '0',
    };
    // A batch's jobs send their events to the batch's webhook (none when it wants only batch.completed).
    const jobEvents = batch.webhookEvents?.filter((type) => (JOB_EVENT_TYPES as readonly string[]).includes(type));
    const withWebhook = jobs.map((job) => ({
      ...job,
      webhookUrl: jobEvents?.length === 0 ? null : (batch.webhookUrl ?? null),
      webhookEvents: jobEvents ?? null,
    }));
    const records = await this.#recordMany(withWebhook, id, priority);
    // `cost` is left out until one of its jobs has one (HINCRBYFLOAT makes it).
    await this.#redis.hset(batchKey(this.#prefix, id), fields);
    const enqueued = this.#enqueueMany(records);
    // Observed here so that a failure is never unhandled; callers that care await it.
    enqueued.catch(() => undefined);
    const created = await this.getBatch(id);
    if (!created) throw new Error(`batch ${id} vanished while being created`);
    return { batch: created, jobIds: records.map((r) => r.id), enqueued };
  }

  /** Marks a running batch cancelled; false when it had already finished. Its jobs are cancelled one by one. */
  async markBatchCancelled(id: string): Promise<boolean> {
    const changed = await this.#redis.eval(
      "if redis.call('HGET', KEYS[1], 'status') == 'running' then redis.call('HSET', KEYS[1], 'status', 'cancelled') return 1 end return 0",
      1,
      batchKey(this.#prefix, id),
    );
    return changed === 1;
  }

  async get(id: string): Promise<JobRecord | undefined> {
    const hash = await this.#redis.hgetall(jobKey(this.#prefix, id));
    return hash.id ? recordFromHash(hash) : undefined;
  }

  async getBatch(id: string): Promise<BatchRecord | undefined> {
    const hash = await this.#redis.hgetall(batchKey(this.#prefix, id));
    return hash.id ? batchFromHash(hash) : undefined;
  }

  /**
   * A tenant's own job, or undefined — for another tenant's job as for none at all, and in the
   * same time: the record is read only when its tenant matches, so timing tells nothing either.
   */
  async getOwned(tenant: string, id: string): Promise<JobRecord | undefined> {
    const hash = await this.#hgetallOwned(jobKey(this.#prefix, id), tenant);
    return hash ? recordFromHash(hash) : undefined;
  }

  /** A tenant's own batch, or undefined (see getOwned). */
  async getBatchOwned(tenant: string, id: string): Promise<BatchRecord | undefined> {
    const hash = await this.#hgetallOwned(batchKey(this.#prefix, id), tenant);
    return hash ? batchFromHash(hash) : undefined;
  }

  async #hgetallOwned(key: string, tenant: string): Promise<Record<string, string> | undefined> {
    const flat = (await this.#redis.eval(OWNED_HGETALL_LUA, 1, key, tenant)) as string[] | null;
    if (!flat || flat.length === 0) return undefined;
    const hash: Record<string, string> = {};
    for (let i = 0; i < flat.length; i += 2) hash[flat[i] as string] = flat[i + 1] as string;
    return hash;
  }

  /** One page of a tenant's jobs, newest first (see tenant-index.ts). */
  listJobs(request: JobListRequest): Promise<JobListPage> {
    return listTenantJobs(this.#redis, this.#prefix, request);
  }

  /**
   * Starts following, for its cost, a request a job was cancelled during (its submit
   * answered after the cancel), or records one more poll of it (`polls` grown, same
   * request). False when there is nothing to follow: the job is not cancelled, its cost
   * is known, or it follows another request (or, for a poll, none any more).
   */
  async followCancelled(id: string, request: CancelledRequest, mode: 'start' | 'poll'): Promise<boolean> {
    const follow = this.#command<(...keysAndArgs: string[]) => Promise<number>>(FOLLOW_SCRIPT);
    const done = await follow.call(
      this.#redis,
      jobKey(this.#prefix, id),
      unfinishedJobsKey(this.#prefix),
      JSON.stringify(request),
      mode,
      String(Date.now()),
    );
    return done === 1;
  }

  /**
   * Records what Segmind charged for the request a cancelled job was following (null:
   * nothing known, the deadline passed) on the job and its batch, and stops following
   * it. The job stays cancelled; no event is recorded. False when it was settled already.
   */
  async settleCancelled(record: JobRecord, requestId: string, cost: number | null): Promise<boolean> {
    const settle = this.#command<(...keysAndArgs: string[]) => Promise<number>>(SETTLE_SCRIPT);
    const done = await settle.call(
      this.#redis,
      jobKey(this.#prefix, record.id),
      record.batch_id ? batchKey(this.#prefix, record.batch_id) : '',
      unfinishedJobsKey(this.#prefix),
      requestId,
      cost === null ? '' : String(cost),
    );
    return done === 1;
  }

  /** Tenant, model and stage of each job that still has a record, in one round trip (the dashboard's cards). */
  async summaries(ids: readonly string[]): Promise<Map<string, { tenant: string; model: string; stage: string }>> {
    const found = new Map<string, { tenant: string; model: string; stage: string }>();
    if (ids.length === 0) return found;
    const pipeline = this.#redis.pipeline();
    for (const id of ids) pipeline.hmget(jobKey(this.#prefix, id), 'tenant', 'model', 'stage');
    const results = (await pipeline.exec()) ?? [];
    for (const [index, [error, fields]] of results.entries()) {
      const [tenant, model, stage] = (fields ?? []) as (string | null)[];
      if (!error && tenant && model && stage) found.set(ids[index] as string, { tenant, model, stage });
    }
    return found;
  }

  /** The ids of a batch's jobs in creation order, a page at a time. */
  async batchJobIds(batchId: string, start: number, count: number): Promise<string[]> {
    return this.#redis.lrange(batchJobsKey(this.#prefix, batchId), start, start + count - 1);
  }

  /** A batch's jobs in creation order, read a page at a time (never the whole batch at once). */
  async *batchJobs(batchId: string, pageSize = 200): AsyncGenerator<JobRecord> {
    for (let start = 0; ; start += pageSize) {
      const ids = await this.batchJobIds(batchId, start, pageSize);
      if (ids.length === 0) return;
      const pipeline = this.#redis.pipeline();
      for (const id of ids) pipeline.hgetall(jobKey(this.#prefix, id));
      const results = (await pipeline.exec()) ?? [];
      for (const [error, hash] of results) {
        if (error) throw error;
        const fields = hash as Record<string, string>;
        if (fields.id) yield recordFromHash(fields);
      }
      if (ids.length < pageSize) return;
    }
  }

  /**
   * Moves a job to `to` if its stage is one of `from`, atomically with its batch's
   * counters. A final stage stamps `finished_at` and starts the record's retention.
   */
  async transition(
    id: string,
    from: readonly StageName[],
    to: JobStage,
    changes: JobChanges = {},
    /** Unique per call; given only by tests that replay a call. */
    token: string = randomUUID(),
  ): Promise<TransitionResult> {
    const now = Date.now();
    const args = [
      from.join(','),
      to.name,
      JSON.stringify(to),
      new Date(now).toISOString(),
      String(this.#retentionMs),
      this.#prefix,
      String(now),
      token,
      this.#events ? '1' : '0',
      // A failed stage carries its error; the record's `error` field is what callers see.
      ...changeFields(to.name === 'failed' ? { ...changes, error: to.error } : changes),
    ];
    const command = (this.#redis as unknown as Record<string, TransitionCommand>)[SCRIPT_NAME];
    if (!command) throw new Error('transition script is not defined on this connection');
    const [code, stage, batchFinished, created] = await command.call(
      this.#redis,
      jobKey(this.#prefix, id),
      unfinishedJobsKey(this.#prefix),
      eventOutboxKey(this.#prefix),
      pendingEventsKey(this.#prefix),
      ...args,
    );
    if (code === -1) return { ok: false, reason: 'not_found' };
    if (code === 0) return { ok: false, reason: 'wrong_stage', current: stage as StageName };
    const events = created ? created.split(',') : [];
    if (events.length > 0) await this.#events?.publish(events);
    return { ok: true, previous: stage as StageName, batchFinished: batchFinished === 1, events };
  }

  /**
   * Unfinished jobs (queued or working, or cancelled and still following their request at
   * Segmind) that have neither moved nor been checked for
   * `olderThanMs`, oldest first, a page at a time: each page with its records and
   * render-queue jobs at a glance, and already marked checked (the reconciler comes back
   * to it only after another `olderThanMs`). One round trip per page — the glance, the
   * mark and the next page's ids travel in one pipeline — and at most `maxPages` pages,
   * however long the backlog: the rest come first next time.
   */
  async *unfinishedJobsToCheck(
    olderThanMs: number,
    { pageSize = 1_000, maxPages = 5 }: { pageSize?: number; maxPages?: number } = {},
  ): AsyncGenerator<UnfinishedJobGlance[]> {
    const key = unfinishedJobsKey(this.#prefix);
    let ids = await this.#redis.zrangebyscore(key, '-inf', Date.now() - olderThanMs, 'LIMIT', 0, pageSize);
    for (let page = 1; ids.length > 0; page++) {
      const now = Date.now();
      const pipeline = this.#redis.pipeline();
      for (const id of ids) {
        pipeline.hmget(jobKey(this.#prefix, id), 'stage', 'priority', 'batch_id', 'cancelled_request');
        glanceAtQueueJob(pipeline, this.#queue, id);
      }
      // XX: a job that finished meanwhile is not put back.
      pipeline.zadd(key, 'XX', ...ids.flatMap((id) => [now, id]));
      const more = page < maxPages && ids.length === pageSize;
      if (more) pipeline.zrangebyscore(key, '-inf', now - olderThanMs, 'LIMIT', 0, pageSize);
      const answers = pipelineAnswers(await pipeline.exec());
      yield ids.map((id, i) => {
        const [stage, priority, batchId, following] = answers[i * 3] as (string | null)[];
        return {
          id,
          stage: stage && stage in STATUS_OF_STAGE ? (stage as StageName) : undefined,
          following: stage === 'cancelled' && Boolean(following),
          priority: Number(priority) || PRIORITY.single,
          batchId: batchId || null,
          render: readQueueJobGlance(answers[i * 3 + 1], answers[i * 3 + 2]),
        };
      });
      ids = more ? (answers[ids.length * 3 + 1] as string[]) : [];
    }
  }

  /** Drops jobs from the unfinished jobs (their record is gone or final). */
  async forgetUnfinished(ids: readonly string[]): Promise<void> {
    if (ids.length > 0) await this.#redis.zrem(unfinishedJobsKey(this.#prefix), ...ids);
  }

  /**
   * Of these queued jobs, those whose creation has not settled: still waiting for their
   * creator's BullMQ add (or for `recoverUnenqueued`), or in a batch that was never
   * committed. No one else may enqueue them. One round trip.
   */
  async creationUnsettled(jobs: readonly { id: string; batchId: string | null }[]): Promise<Set<string>> {
    if (jobs.length === 0) return new Set();
    const batchIds = [...new Set(jobs.flatMap((job) => (job.batchId ? [job.batchId] : [])))];
    const pipeline = this.#redis.pipeline();
    for (const job of jobs) pipeline.zscore(unenqueuedKey(this.#prefix), job.id);
    for (const batchId of batchIds) pipeline.exists(batchKey(this.#prefix, batchId));
    const answers = pipelineAnswers(await pipeline.exec());
    const uncommitted = new Set(batchIds.filter((_, i) => answers[jobs.length + i] === 0));
    return new Set(
      jobs
        .filter((job, i) => answers[i] !== null || (job.batchId !== null && uncommitted.has(job.batchId)))
        .map((job) => job.id),
    );
  }

  /**
   * Enqueues jobs recorded more than `olderThanMs` ago whose enqueue was never
   * confirmed (the creating process died in between). Returns how many it handled.
   */
  async recoverUnenqueued(olderThanMs = 30_000): Promise<number> {
    const cutoff = Date.now() - olderThanMs;
    const ids = await this.#redis.zrangebyscore(unenqueuedKey(this.#prefix), '-inf', cutoff, 'LIMIT', 0, 1000);
    for (const id of ids) {
      const record = await this.get(id);
      if (record?.batch_id && !(await this.#redis.exists(batchKey(this.#prefix, record.batch_id)))) {
        // The batch was never committed: its caller got an error, so the job must not run.
        await this.#redis.multi().del(jobKey(this.#prefix, id)).zrem(unfinishedJobsKey(this.#prefix), id).exec();
      } else if (record && !isFinal(record.stage.name)) {
        await this.#queue.add(QUEUE_NAMES.render, { jobId: id }, { jobId: id, priority: record.priority });
      }
      await this.#redis.zrem(unenqueuedKey(this.#prefix), id);
    }
    return ids.length;
  }

  async #createMany(jobs: readonly NewJob[], batchId: string | null, priority: number): Promise<JobRecord[]> {
    const records = await this.#recordMany(jobs, batchId, priority);
    await this.#enqueueMany(records);
    return records;
  }

  #command<T>(name: string): T {
    const command = (this.#redis as unknown as Record<string, T>)[name];
    if (!command) throw new Error(`${name} is not defined on this connection`);
    return command;
  }

  async #recordMany(jobs: readonly NewJob[], batchId: string | null, priority: number): Promise<JobRecord[]> {
    const create = this.#command<(...args: string[]) => Promise<number>>(CREATE_SCRIPT);
    const listKey = batchId ? batchJobsKey(this.#prefix, batchId) : '';
    const nowMs = Date.now();
    const now = new Date(nowMs).toISOString();
    const records = jobs.map((job) => newRecord(job, batchId, job.priority ?? priority, now));
    const calls: Promise<number>[] = [];
    for (let start = 0; start < records.length; start += this.#chunkSize) {
      const chunk = records.slice(start, start + this.#chunkSize);
      const keys = chunk.flatMap((record) => [
        jobKey(this.#prefix, record.id),
        tenantJobsKey(this.#prefix, record.tenant),
      ]);
      const encoded = chunk.map((record) =>
        JSON.stringify([
          record.id,
          tenantIndexEntry(nowMs, record.id),
          ...Object.entries(hashFromRecord(record)).flat(),
        ]),
      );
      calls.push(
        create.call(
          this.#redis,
          String(3 + keys.length),
          unenqueuedKey(this.#prefix),
          listKey,
          unfinishedJobsKey(this.#prefix),
          ...keys,
          String(nowMs),
          ...encoded,
        ),
      );
    }
    // Sent together and run in order, so a batch's list keeps creation order.
    await Promise.all(calls);
    return records;
  }

  async #enqueueMany(records: readonly JobRecord[]): Promise<void> {
    const chunks: JobRecord[][] = [];
    for (let start = 0; start < records.length; start += this.#chunkSize) {
      chunks.push(records.slice(start, start + this.#chunkSize));
    }
    // A few bulk adds in flight at once keep Redis busy without one huge transaction.
    const next = async (): Promise<void> => {
      const chunk = chunks.shift();
      if (!chunk) return;
      await this.#queue.addBulk(
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
      this.#redis.zrem(unenqueuedKey(this.#prefix), ...batch).catch(() => {
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
  };
}

function batchFromHash(hash: Record<string, string>): BatchRecord {
  const count = (field: string) => Number(hash[field] ?? 0);
  return {
    id: hash.id ?? '',
    tenant: hash.tenant ?? '',
    status: (hash.status ?? 'running') as BatchStatus,
    metadata: JSON.parse(hash.metadata ?? 'null'),
    webhook_url: hash.webhook_url || null,
    webhook_events: hash.webhook_events ? (hash.webhook_events.split(',') as WebhookEventType[]) : null,
    counts: {
      total: count('total'),
      queued: count('queued'),
      running: count('running'),
      completed: count('completed'),
      failed: count('failed'),
      cancelled: count('cancelled'),
    },
    cost: hash.cost ? roundCredits(Number(hash.cost)) : null,
    created_at: hash.created_at ?? '',
    finished_at: hash.finished_at || null,
  };
}

/** A sum of credits without the float noise of adding many decimals (Segmind prices to far fewer places). */
function roundCredits(value: number): number {
  return Math.round(value * 1e9) / 1e9;
}

function changeFields(changes: JobChanges): string[] {
  const fields: string[] = [];
  if (changes.segmind_request_id !== undefined) fields.push('segmind_request_id', changes.segmind_request_id);
  if (changes.outputs !== undefined) fields.push('outputs', JSON.stringify(changes.outputs));
  if (changes.error !== undefined) fields.push('error', JSON.stringify(changes.error));
  if (changes.cost !== undefined) fields.push('cost', String(changes.cost));
  return fields;
}

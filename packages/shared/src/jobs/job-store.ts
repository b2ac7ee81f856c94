/**
 * The job store: the one module through which the API and the worker create, read and
 * move jobs — a thin facade over one module per operation (create-jobs, batches,
 * transition, cancelled-requests, working-set, recovery, job-reads). Records live in
 * Redis hashes of their own (not in BullMQ's job data), so a finished job stays readable
 * for the retention period.
 */
import type { Queue } from 'bullmq';
import type { RenderJobData } from '../queues.js';
import type { RedisConnection } from '../redis/create-redis.js';
import { defineScripts } from '../redis/scripts.js';
import type { WebhookEventStore } from '../webhooks/event-store.js';
import * as admission from './admission.js';
import * as backlog from './backlog.js';
import type { BatchRecord } from './batch-record.js';
import * as batches from './batches.js';
import { followCancelled, settleCancelled } from './cancelled-requests.js';
import { JobCreator, type NewJob } from './create-jobs.js';
import * as fairShare from './fair-share.js';
import * as reads from './job-reads.js';
import type { CancelledRequest, JobRecord } from './job-record.js';
import type { MoveName } from './lifecycle.js';
import { jobLua } from './lifecycle-lua.js';
import { recoverUnenqueued } from './recovery.js';
import * as spend from './spend.js';
import type { StoreContext } from './store-context.js';
import { type JobListPage, type JobListRequest, listTenantJobs } from './tenant-index.js';
import { type JobChanges, type JobRef, type StageOfMove, type TransitionResult, transition } from './transition.js';
import * as workingSet from './working-set.js';

export interface JobStoreOptions {
  readonly redis: RedisConnection;
  readonly queue: Queue<RenderJobData>;
  /** RENDERQ_PREFIX; also the BullMQ prefix. */
  readonly prefix: string;
  /** How long finished records stay readable. @defaultValue 7 days */
  readonly retentionMs?: number;
  /** Jobs and BullMQ adds per round trip when creating a batch. @defaultValue 500 */
  readonly chunkSize?: number;
  /** Where webhook events go; unset (no WEBHOOK_SECRET): finishing jobs records no events. */
  readonly events?: WebhookEventStore;
  /** FAIR_SHARE: new jobs wait for their tenant's share before the render queue. @defaultValue false */
  readonly fairShare?: boolean;
}

export class JobStore {
  readonly #ctx: StoreContext;
  readonly #creator: JobCreator;

  constructor(options: JobStoreOptions) {
    defineScripts(options.redis, jobLua());
    this.#ctx = {
      redis: options.redis,
      queue: options.queue,
      prefix: options.prefix,
      retentionMs: options.retentionMs ?? 7 * 24 * 3600 * 1000,
      chunkSize: options.chunkSize ?? 500,
      events: options.events,
      fairShare: options.fairShare ?? false,
    };
    this.#creator = new JobCreator(this.#ctx);
  }

  /** Records and enqueues one job (jobs created in the same tick are written together). */
  create(job: NewJob): Promise<JobRecord> {
    return this.#creator.create(job);
  }

  /** Records and enqueues replays of finished jobs; returns those recorded (a job is replayed at most once). */
  createReplays(jobs: readonly NewJob[]): Promise<JobRecord[]> {
    return this.#creator.createReplays(jobs);
  }

  /** Records a batch; returns once it is durably accepted, with `enqueued` settling once BullMQ holds every job. */
  createBatch(batch: batches.NewBatch, jobs: readonly NewJob[]): Promise<batches.CreatedBatch> {
    return batches.createBatch(this.#ctx, this.#creator, batch, jobs);
  }

  /** Marks a running batch cancelled; false when it had already finished. Its jobs are cancelled one by one. */
  markBatchCancelled(id: string): Promise<boolean> {
    return batches.markBatchCancelled(this.#ctx, id);
  }

  /**
   * The same store over another connection to the same Redis: for a part of a process whose many
   * small commands are better sent on a connection of their own (the webhook deliveries).
   */
  withConnection(redis: RedisConnection): JobStore {
    const { queue, prefix, retentionMs, chunkSize, events, fairShare } = this.#ctx;
    return new JobStore({ redis, queue, prefix, retentionMs, chunkSize, fairShare, ...(events ? { events } : {}) });
  }

  get(id: string): Promise<JobRecord | undefined> {
    return reads.readJob(this.#ctx, id);
  }

  getBatch(id: string): Promise<BatchRecord | undefined> {
    return batches.readBatch(this.#ctx, id);
  }

  /** A tenant's own job, or undefined — for another tenant's job as for none at all, and in the same time. */
  getOwned(tenant: string, id: string): Promise<JobRecord | undefined> {
    return reads.readOwnedJob(this.#ctx, tenant, id);
  }

  /** A tenant's own batch, or undefined (see getOwned). */
  getBatchOwned(tenant: string, id: string): Promise<BatchRecord | undefined> {
    return batches.readOwnedBatch(this.#ctx, tenant, id);
  }

  /** One page of a tenant's jobs, newest first (see tenant-index.ts). */
  listJobs(request: JobListRequest): Promise<JobListPage> {
    return listTenantJobs(this.#ctx.redis, this.#ctx.prefix, request);
  }

  /** Starts following a cancelled job's request for its cost, or records one more poll of it. */
  followCancelled(id: string, request: CancelledRequest, mode: 'start' | 'poll'): Promise<boolean> {
    return followCancelled(this.#ctx, id, request, mode);
  }

  /** Records what Segmind charged for a cancelled job's request, and stops following it. */
  settleCancelled(record: JobRecord, requestId: string, cost: number | null): Promise<boolean> {
    return settleCancelled(this.#ctx, record, requestId, cost);
  }

  /** The records of many jobs that still exist, by id, in one round trip. */
  getMany(ids: readonly string[]): Promise<Map<string, JobRecord>> {
    return reads.readJobs(this.#ctx, ids);
  }

  /** Tenant, model and stage of each job that still has a record, in one round trip. */
  summaries(ids: readonly string[]): Promise<Map<string, reads.JobSummary>> {
    return reads.jobSummaries(this.#ctx, ids);
  }

  /** The ids of a batch's jobs in creation order, a page at a time. */
  batchJobIds(batchId: string, start: number, count: number): Promise<string[]> {
    return batches.batchJobIds(this.#ctx, batchId, start, count);
  }

  /** A batch's jobs in creation order, read a page at a time. */
  batchJobs(batchId: string, pageSize = 200): AsyncGenerator<JobRecord> {
    return batches.batchJobs(this.#ctx, batchId, pageSize);
  }

  /** Moves a job by a move of the lifecycle (lifecycle.ts), atomically with its batch's counters. */
  transition<M extends MoveName>(
    job: JobRef,
    move: M,
    to: StageOfMove<M>,
    changes: JobChanges = {},
    /** Unique per call; given only by tests that replay a call. */
    token?: string,
  ): Promise<TransitionResult> {
    return transition(this.#ctx, job, move, to, changes, token);
  }

  /** Unfinished jobs not moved or checked for `olderThanMs`, a page at a time, marked checked. */
  unfinishedJobsToCheck(olderThanMs: number, options?: workingSet.PageOptions) {
    return workingSet.unfinishedJobsToCheck(this.#ctx, olderThanMs, options);
  }

  /** Drops jobs from the unfinished jobs (their record is gone or final). */
  forgetUnfinished(ids: readonly string[]): Promise<void> {
    return workingSet.forgetUnfinished(this.#ctx, ids);
  }

  /** Of these queued jobs, those whose creation has not settled (no one else may enqueue them). */
  creationUnsettled(jobs: readonly { id: string; batchId: string | null; tenant: string }[]): Promise<Set<string>> {
    return workingSet.creationUnsettled(this.#ctx, jobs);
  }

  /** Admits a request's jobs under its tenant's backlog quota and spend budgets, or says which refused (admission.ts). */
  claimAdmission(request: admission.AdmissionRequest): Promise<admission.AdmissionClaim> {
    return admission.claimAdmission(this.#ctx, request);
  }

  /** Ends an admitted request's claim, sending or withdrawing its budget warnings (admission.ts). */
  endAdmission(
    request: Pick<admission.AdmissionRequest, 'tenant' | 'day'>,
    claim: Extract<admission.AdmissionClaim, { admitted: true }>,
    recorded: boolean,
  ): Promise<void> {
    return admission.endAdmission(this.#ctx, request, claim, recorded);
  }

  /** Each tenant's spend in the day and month of `periods` (spend.ts). */
  spendOf(tenants: readonly string[], periods: spend.SpendPeriods): Promise<Map<string, spend.TenantSpend>> {
    return spend.spendOf(this.#ctx, tenants, periods);
  }

  /** Deletes spend ledger fields of days and months long past; how many. */
  tidySpendLedgers(): Promise<number> {
    return spend.tidySpendLedgers(this.#ctx);
  }

  /** The tenant's unfinished jobs, as its backlog quota counts them. */
  unfinishedJobsOf(tenant: string): Promise<number> {
    return backlog.unfinishedJobsOf(this.#ctx, tenant);
  }

  /** Takes finished or lost jobs out of the tenants' backlogs (see backlog.ts); how many. */
  tidyBacklogs(maxChecks?: number): Promise<number> {
    return backlog.tidyBacklogs(this.#ctx, maxChecks);
  }

  /** Every tenant's unfinished jobs, as their backlog quotas count them. */
  unfinishedJobsByTenant(): Promise<Map<string, number>> {
    return backlog.unfinishedJobsByTenant(this.#ctx);
  }

  /**
   * Enqueues (or drops) jobs recorded more than `olderThanMs` ago whose enqueue was never
   * confirmed, and adds to the render queue jobs released as long ago whose add was not.
   */
  async recoverUnenqueued(olderThanMs = 30_000): Promise<number> {
    // Each independently: a failure of one leaves the other's work done.
    const [unenqueued, released] = await Promise.allSettled([
      recoverUnenqueued(this.#ctx, olderThanMs),
      fairShare.recoverReleased(this.#ctx, olderThanMs),
    ]);
    if (unenqueued.status === 'rejected') throw unenqueued.reason;
    if (released.status === 'rejected') throw released.reason;
    return unenqueued.value + released.value;
  }

  /** Adds to the render queue jobs released more than `olderThanMs` ago whose add was never confirmed. */
  recoverReleased(olderThanMs: number): Promise<number> {
    return fairShare.recoverReleased(this.#ctx, olderThanMs);
  }

  /** Puts back a tenant with jobs waiting that is missing from those served; forgets stale passes. */
  healFairShare(): Promise<number> {
    return fairShare.healFairShare(this.#ctx);
  }

  /** Releases up to `most` jobs waiting for their tenants' fair share onto the render queue (fair-share.ts). */
  releaseFairShare(most: number, weightOf: fairShare.WeightOf): Promise<string[]> {
    return fairShare.releaseFairShare(this.#ctx, most, weightOf);
  }

  /** The tenants with jobs waiting for their share, next served first. */
  fairTenants(most?: number): Promise<fairShare.FairTenant[]> {
    return fairShare.fairTenants(this.#ctx, most);
  }

  /** How many jobs wait for their tenants' shares, all tenants together. */
  waitingForShare(): Promise<number> {
    return fairShare.waitingJobs(this.#ctx);
  }

  /** How many of a tenant's jobs wait for its share. */
  waitingForShareOf(tenant: string): Promise<number> {
    return fairShare.waitingJobsOf(this.#ctx, tenant);
  }
}

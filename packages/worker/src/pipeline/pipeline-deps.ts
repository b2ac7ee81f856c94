/** What the pipeline's steps work with, built once per worker process (start-worker.ts). */

import type { Span } from '@opentelemetry/api';
import type { JobError } from '@renderq/contract';
import type {
  FinishingMove,
  JobChanges,
  JobRecord,
  JobStage,
  JobStore,
  Logger,
  Metrics,
  PauseControl,
  StageOfMove,
  StoredInput,
  Traces,
} from '@renderq/shared';
import { markFailed, traceLogFields } from '@renderq/shared';
import type { Job, Queue } from 'bullmq';
import type { SubmitWork } from '../fair-release.js';
import type { RateBudget } from '../segmind/rate-budget.js';
import type { SegmindClient } from '../segmind/segmind-client.js';
import type { SubmitBreaker } from '../segmind/submit-breaker.js';
import type { InflightCount } from './inflight-count.js';
import type { OutputStore } from './output-store.js';
import type { PollSchedule } from './poll-schedule.js';

interface PipelineSettings {
  readonly ambiguousSubmitPolicy: 'fail' | 'resubmit';
  /** From a submit's start, how long a job found mid-submit waits for its own worker (AMBIGUOUS_SUBMIT_WAIT_MS). */
  readonly ambiguousSubmitWaitMs: number;
  readonly jobDeadlineMs: number;
  /** How long Segmind keeps a finished request's status and result (SEGMIND_RESULT_RETENTION_SECONDS). */
  readonly resultRetentionMs: number;
  /** From the first submit Segmind did not take, how long a job keeps trying (SEGMIND_OUTAGE_WAIT_SECONDS). */
  readonly outageWaitMs: number;
  readonly maxInflight: number;
  /** Store attempts before an output outage fails the job. @defaultValue 15 */
  readonly maxStoreAttempts: number;
  /** The render queue's BullMQ lock (WORKER_LOCK_DURATION_MS), renewed just before a submit. */
  readonly lockDurationMs: number;
}

export interface PipelineDeps {
  readonly store: JobStore;
  readonly segmind: SegmindClient;
  /** Segmind's submit rate limit, learned and shared by every worker using the same key. */
  readonly budget: RateBudget;
  /** Segmind's outage breaker, shared by every worker: holds submits while most fail, and probes. */
  readonly breaker: SubmitBreaker;
  /** Requests at Segmind across all workers, for SEGMIND_MAX_INFLIGHT. */
  readonly inflight: InflightCount;
  /** How long this worker's submits hold a worker slot besides their slot wait (for the fair-share release). */
  readonly submitWork: SubmitWork;
  readonly outputs: OutputStore;
  readonly schedule: PollSchedule;
  readonly pause: PauseControl;
  readonly renderQueue: Queue;
  readonly pollQueue: Queue;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** Each step's span, under the trace context the job's record keeps (nothing when tracing is off). */
  readonly traces: Traces;
  readonly settings: PipelineSettings;
  /** Keeps the last balance Segmind reported, for operators and every process's metrics. */
  readonly recordCredits: (balance: number) => Promise<void>;
  /** True once the worker is shutting down: a call cut short then is expected, not a fault to warn about. */
  readonly closing: () => boolean;
  /** The input images stored with a job at enqueue, as the caller sent them (base64 or data: URI), by field. */
  readonly readInputs: (inputs: readonly StoredInput[]) => Promise<Record<string, string>>;
}

/** A render queue's job: only the renderq job's id; the record in Redis is the truth. */
export type RenderJob = Job<{ jobId: string }>;
/** A poll queue's job: likewise only the renderq job's id. */
export type PollJob = Job<{ jobId: string }>;

type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/**
 * A job's log lines: each carries its id, Segmind request id and model, and when the step is
 * traced its trace and span ids. Built per line, not as a pino child per job, so that a level that
 * is off costs nothing on the hot path.
 */
export class JobLog {
  readonly #logger: Logger;
  readonly #record: JobRecord;
  readonly #span: Span | undefined;

  constructor(logger: Logger, record: JobRecord, span?: Span) {
    this.#logger = logger;
    this.#record = record;
    this.#span = span;
  }

  debug(fields: object | string, message?: string): void {
    this.#write('debug', fields, message);
  }
  info(fields: object | string, message?: string): void {
    this.#write('info', fields, message);
  }
  warn(fields: object | string, message?: string): void {
    this.#write('warn', fields, message);
  }
  error(fields: object | string, message?: string): void {
    this.#write('error', fields, message);
  }

  #write(level: LogLevel, fields: object | string, message?: string): void {
    if (!this.#logger.isLevelEnabled(level)) return;
    const { id, segmind_request_id, model } = this.#record;
    const line = { job_id: id, request_id: segmind_request_id, model, ...traceLogFields(this.#span) };
    if (typeof fields === 'string') this.#logger[level](line, fields);
    else this.#logger[level]({ ...line, ...fields }, message);
  }
}

export function jobLogger(deps: PipelineDeps, record: JobRecord): JobLog {
  return new JobLog(deps.logger, record, deps.traces.spanOf(record.id));
}

/** Counts what Segmind charged for a job in its tenant's spend (the metric; the ledger is Redis's). */
export function countSpend(deps: PipelineDeps, record: JobRecord, cost: number): void {
  deps.metrics.tenantSpend.inc({ tenant: deps.metrics.tenantLabels.label(record.tenant) }, cost);
}

/**
 * Finishes a job by `move`, and counts it. Returns false when the job had moved on
 * (cancelled meanwhile): the caller's work is then discarded.
 */
export async function finish<M extends FinishingMove>(
  deps: PipelineDeps,
  record: JobRecord,
  move: M,
  to: StageOfMove<M>,
  changes: JobChanges = {},
): Promise<boolean> {
  const moved = await deps.store.transition(record, move, to, changes);
  const log = jobLogger(deps, record);
  if (!moved.ok) {
    log.info({ outcome: moved }, 'job moved on before it could finish here');
    return false;
  }
  const stage: Extract<JobStage, { name: 'completed' | 'failed' | 'cancelled' | 'expired' }> = to;
  deps.metrics.jobsFinished.inc({ model: record.model, status: stage.name });
  deps.metrics.jobDuration.observe({ model: record.model }, (Date.now() - Date.parse(record.created_at)) / 1000);
  if (stage.name === 'failed') {
    deps.metrics.jobsFailed.inc({ model: record.model, code: stage.error.code });
    markFailed(deps.traces.spanOf(record.id), stage.error.code, stage.error.message);
    log.warn({ error: stage.error }, 'job failed');
  } else log.debug({ status: stage.name }, 'job finished');
  return true;
}

export function failedStage(error: JobError): Extract<JobStage, { name: 'failed' }> {
  return { name: 'failed', error };
}

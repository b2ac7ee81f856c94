/** What the pipeline's steps work with, built once per worker process (start-worker.ts). */
import type {
  FinishingMove,
  JobChanges,
  JobError,
  JobRecord,
  JobStage,
  JobStore,
  Logger,
  Metrics,
  PauseControl,
  StageOfMove,
  StoredInput,
} from '@renderq/shared';
import type { Queue } from 'bullmq';
import type { RateBudget } from '../segmind/rate-budget.js';
import type { SegmindClient } from '../segmind/segmind-client.js';
import type { OutputStore } from './output-store.js';
import type { PollSchedule } from './poll-schedule.js';

interface PipelineSettings {
  readonly ambiguousSubmitPolicy: 'fail' | 'resubmit';
  readonly jobDeadlineMs: number;
  readonly maxInflight: number;
  /** Store attempts before an output outage fails the job. @defaultValue 15 */
  readonly maxStoreAttempts: number;
}

export interface PipelineDeps {
  readonly store: JobStore;
  readonly segmind: SegmindClient;
  /** Segmind's submit rate limit, learned and shared by every worker using the same key. */
  readonly budget: RateBudget;
  readonly outputs: OutputStore;
  readonly schedule: PollSchedule;
  readonly pause: PauseControl;
  readonly renderQueue: Queue;
  readonly pollQueue: Queue;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly settings: PipelineSettings;
  /** Keeps the last balance Segmind reported, for operators and every process's metrics. */
  readonly recordCredits: (balance: number) => Promise<void>;
  /** The input images stored with a job at enqueue, as the caller sent them (base64 or data: URI), by field. */
  readonly readInputs: (inputs: readonly StoredInput[]) => Promise<Record<string, string>>;
}

/** Every log line about a job carries its id, Segmind request id and model. */
export function jobLogger(deps: PipelineDeps, record: JobRecord): Logger {
  return deps.logger.child({ job_id: record.id, request_id: record.segmind_request_id, model: record.model });
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
  const stage: JobStage = to;
  deps.metrics.jobsFinished.inc({ model: record.model, status: stage.name });
  deps.metrics.jobDuration.observe({ model: record.model }, (Date.now() - Date.parse(record.created_at)) / 1000);
  if (stage.name === 'failed') {
    deps.metrics.jobsFailed.inc({ model: record.model, code: stage.error.code });
    log.warn({ error: stage.error }, 'job failed');
  } else log.info({ status: stage.name }, 'job finished');
  return true;
}

export function failedStage(error: JobError): Extract<JobStage, { name: 'failed' }> {
  return { name: 'failed', error };
}

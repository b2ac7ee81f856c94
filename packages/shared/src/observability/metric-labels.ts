/**
 * The closed labels of renderq's metrics — every value each takes, by metric — and
 * the types that hold a metric to them (prom-client takes any string). docs/metrics.md
 * lists exactly these values (a test compares).
 */
import { AttemptOutcome, ErrorCode, EventStatus, JobStatus, PauseReason } from '@renderq/contract';
import type { Counter, Histogram } from 'prom-client';
import { EnvSchema } from '../config/env-schema.js';
import { QUEUE_NAMES } from '../queues.js';

const SEGMIND_OPERATIONS = ['submit', 'status', 'result', 'credits', 'download'] as const;
export type SegmindOperation = (typeof SEGMIND_OPERATIONS)[number];

/** What the reconciler queued again: a job still queued, a job mid-work, or a pending webhook event. */
const RECONCILED_KINDS = ['queued_job', 'working_job', 'webhook_event'] as const;
/** Why the API refused a request or connection to protect itself. */
const REFUSAL_REASONS = [
  'enqueue_rate',
  'upload_slots',
  'upload_slots_per_tenant',
  'redis_memory',
  'backlog_quota',
  'spend_budget',
  'max_connections',
  'max_connections_per_ip',
  'headers_timeout',
  'request_timeout',
  'idle_timeout',
] as const;

/** The periods a spend budget is kept over (UTC). */
export const BUDGET_PERIODS = ['day', 'month'] as const;

/**
 * Every value of each closed label, by metric: the metrics take no other (their types say so), and
 * docs/metrics.md lists exactly these (a test compares). Open labels — `model`, an HTTP `status_code`,
 * BullMQ's `state`, a `tenant` — are not here.
 */
export const LABEL_VALUES = {
  renderq_jobs_finished_total: { status: JobStatus.exclude(['queued', 'running']).options },
  renderq_job_stage_seconds: { stage: ['queue_wait', 'segmind', 'store'] },
  renderq_jobs_failed_total: { code: ErrorCode.options },
  renderq_segmind_requests_total: { operation: SEGMIND_OPERATIONS },
  renderq_queue_jobs: { queue: Object.values(QUEUE_NAMES) },
  renderq_queue_ready_jobs: { queue: Object.values(QUEUE_NAMES) },
  renderq_queue_paused: { reason: PauseReason.options },
  renderq_worker_stalled: { queue: Object.values(QUEUE_NAMES) },
  renderq_worker_renewals_total: { queue: Object.values(QUEUE_NAMES) },
  renderq_reconciler_requeued_total: { kind: RECONCILED_KINDS },
  renderq_segmind_ambiguous_submits_total: { policy: EnvSchema.shape.AMBIGUOUS_SUBMIT_POLICY.unwrap().options },
  renderq_webhook_deliveries_total: { outcome: AttemptOutcome.options },
  renderq_webhook_events_finished_total: { status: EventStatus.exclude(['pending']).options },
  renderq_requests_refused_total: { reason: REFUSAL_REASONS },
  renderq_tenant_budget_used_ratio: { period: BUDGET_PERIODS },
} as const;
type Closed = typeof LABEL_VALUES;
/** A metric's labels: its closed ones take only their listed values, `model` and `status_code` any string. */
export type LabelsOf<Name extends keyof Closed, Open extends string = never> = {
  [Label in keyof Closed[Name]]: Closed[Name][Label] extends readonly (infer Value)[] ? Value : never;
} & Record<Open, string>;

/** A counter whose labels take only the values of LABEL_VALUES. */
export interface ClosedCounter<Labels> extends Omit<Counter, 'inc'> {
  inc(labels: Labels, value?: number): void;
}
export interface ClosedHistogram<Labels> extends Omit<Histogram, 'observe'> {
  observe(labels: Labels, value: number): void;
}

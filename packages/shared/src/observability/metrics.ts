/**
 * Every renderq metric, defined once on one registry per process. The contract's
 * metrics (docs/metrics.md) come first; the rest are what an operator needs
 * to see a problem before users do.
 *
 * A gauge tells only what its process knows: facts shared by every process (the
 * credit balance last observed, queue depths, the pause) are read from Redis when
 * scraped, so the API and every worker agree; a gauge with nothing observed yet has
 * no sample rather than a made-up 0; and a gauge of one kind of process (the API's
 * batch uploads) is exposed only by that kind.
 */
import { AttemptOutcome, ErrorCode, EventStatus, JobStatus, PauseReason } from '@renderq/contract';
import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { EnvSchema } from '../config/env-schema.js';
import { QUEUE_NAMES } from '../queues.js';

const SEGMIND_OPERATIONS = ['submit', 'status', 'result', 'credits', 'download'] as const;
export type SegmindOperation = (typeof SEGMIND_OPERATIONS)[number];

/** What the reconciler queued again: a job still queued, a job mid-work, or a pending webhook event. */
const RECONCILED_KINDS = ['queued_job', 'working_job', 'webhook_event'] as const;
export type ReconciledKind = (typeof RECONCILED_KINDS)[number];

/** Why the API refused a request or connection to protect itself. */
const REFUSAL_REASONS = [
  'enqueue_rate',
  'upload_slots',
  'upload_slots_per_tenant',
  'max_connections',
  'max_connections_per_ip',
  'headers_timeout',
  'request_timeout',
  'idle_timeout',
] as const;

/**
 * Every value of each closed label, by metric: the metrics below take no other (their types say so), and
 * docs/metrics.md lists exactly these (a test compares). Open labels — `model`, an HTTP `status_code`,
 * BullMQ's `state` — are not here.
 */
export const LABEL_VALUES = {
  renderq_jobs_finished_total: { status: JobStatus.exclude(['queued', 'running']).options },
  renderq_job_stage_seconds: { stage: ['queue_wait', 'segmind', 'store'] },
  renderq_jobs_failed_total: { code: ErrorCode.options },
  renderq_segmind_requests_total: { operation: SEGMIND_OPERATIONS },
  renderq_queue_jobs: { queue: Object.values(QUEUE_NAMES) },
  renderq_queue_ready_jobs: { queue: Object.values(QUEUE_NAMES) },
  renderq_queue_paused: { reason: PauseReason.options },
  renderq_reconciler_requeued_total: { kind: RECONCILED_KINDS },
  renderq_segmind_ambiguous_submits_total: { policy: EnvSchema.shape.AMBIGUOUS_SUBMIT_POLICY.unwrap().options },
  renderq_webhook_deliveries_total: { outcome: AttemptOutcome.options },
  renderq_webhook_events_finished_total: { status: EventStatus.exclude(['pending']).options },
  renderq_requests_refused_total: { reason: REFUSAL_REASONS },
} as const;
type Closed = typeof LABEL_VALUES;
/** A metric's labels: its closed ones take only their listed values, `model` and `status_code` any string. */
type LabelsOf<Name extends keyof Closed, Open extends string = never> = {
  [Label in keyof Closed[Name]]: Closed[Name][Label] extends readonly (infer Value)[] ? Value : never;
} & Record<Open, string>;

/** A counter whose labels take only the values of LABEL_VALUES (prom-client takes any string). */
interface ClosedCounter<Labels> extends Omit<Counter, 'inc'> {
  inc(labels: Labels, value?: number): void;
}
interface ClosedHistogram<Labels> extends Omit<Histogram, 'observe'> {
  observe(labels: Labels, value: number): void;
}

export interface QueueCounts {
  readonly queue: string;
  readonly counts: Readonly<Record<string, number>>;
  /** Jobs a worker could take now: waiting, prioritized and delayed whose time has come (queue-depths.ts). */
  readonly ready?: number;
}

/** Where the shared gauges are read from when scraped (Redis, in practice); each may be left out. */
export interface MetricSources {
  /** Every queue's depths by BullMQ state; also gives the requests in flight (the poll queue's jobs). */
  readonly queueCounts?: () => Promise<readonly QueueCounts[]>;
  /** The last credit balance any worker observed; undefined while none has been. */
  readonly credits?: () => Promise<number | undefined>;
  /** Whether taking jobs is paused, and why. */
  readonly pause?: () => Promise<{ readonly paused: boolean; readonly reason?: PauseReason }>;
  /** The shared Segmind submit budget: its rate, and how long a 429 still holds every submit; undefined before any submit. */
  readonly submitBudget?: () => Promise<{ readonly perSecond: number; readonly heldForMs: number } | undefined>;
}

export interface MetricsOptions extends MetricSources {
  /** Node.js process metrics (memory, event loop). @defaultValue true */
  readonly processMetrics?: boolean;
  /** The kind of process: gauges only another kind can know are not exposed. @defaultValue both kinds' */
  readonly role?: 'api' | 'worker';
}

export type Metrics = ReturnType<typeof createMetrics>;

const PAUSE_REASONS = PauseReason.options;
/** Queue depths read for one scrape serve every gauge that needs them. */
const QUEUE_COUNTS_REUSE_MS = 1_000;

/** A gauge without labels that has no sample until a value has been observed (prom-client would show 0). */
class ObservedGauge extends Gauge {
  #observed = false;

  override set(value: number): void;
  override set(labels: never, value: number): void;
  override set(...args: [number] | [never, number]): void {
    this.#observed = true;
    (super.set as (...values: unknown[]) => void)(...args);
  }

  override async get(): Promise<MetricObjectWithValues<MetricValue<string>>> {
    const metric = await super.get();
    return this.#observed ? metric : { ...metric, values: [] };
  }
}

export function createMetrics(options: MetricsOptions = {}) {
  const registry = new Registry();
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  let sources: MetricSources = options;
  let depths: { at: number; counts: Promise<readonly QueueCounts[]> } | undefined;
  const queueCounts = (): Promise<readonly QueueCounts[]> | undefined => {
    const read = sources.queueCounts;
    if (!read) return undefined;
    if (!depths || Date.now() - depths.at > QUEUE_COUNTS_REUSE_MS) {
      const counts = read();
      // A failed read is not reused: the next scrape asks again.
      counts.catch(() => {
        if (depths?.counts === counts) depths = undefined;
      });
      depths = { at: Date.now(), counts };
    }
    return depths.counts;
  };

  return {
    registry,
    jobsEnqueued: new Counter({
      name: 'renderq_jobs_enqueued_total',
      help: 'Jobs accepted and enqueued, by model.',
      labelNames: ['model'] as const,
      registers,
    }),
    jobsFinished: new Counter({
      name: 'renderq_jobs_finished_total',
      help: 'Jobs that reached a final status, by model and status.',
      labelNames: ['model', 'status'] as const,
      registers,
    }) as ClosedCounter<LabelsOf<'renderq_jobs_finished_total', 'model'>>,
    jobDuration: new Histogram({
      name: 'renderq_job_duration_seconds',
      help: 'Time from a job’s creation to its finish.',
      labelNames: ['model'] as const,
      buckets: [1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800],
      registers,
    }),
    jobStageSeconds: new Histogram({
      name: 'renderq_job_stage_seconds',
      help: 'Time a job spent in one part of its life: queue_wait (creation to submit), segmind (submitted to result seen), store (outputs downloaded and stored).',
      labelNames: ['model', 'stage'] as const,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800],
      registers,
    }) as ClosedHistogram<LabelsOf<'renderq_job_stage_seconds', 'model'>>,
    jobsFailed: new Counter({
      name: 'renderq_jobs_failed_total',
      help: 'Jobs that failed, by model and error code (every code, what it means and what to do: docs/errors.md).',
      labelNames: ['model', 'code'] as const,
      registers,
    }) as ClosedCounter<LabelsOf<'renderq_jobs_failed_total', 'model'>>,
    segmindRequests: new Counter({
      name: 'renderq_segmind_requests_total',
      help: 'Requests to Segmind by operation and HTTP status code ("error" when no answer came).',
      labelNames: ['operation', 'status_code'] as const,
      registers,
    }) as ClosedCounter<LabelsOf<'renderq_segmind_requests_total', 'status_code'>>,
    segmindCreditsRemaining: new ObservedGauge({
      name: 'renderq_segmind_credits_remaining',
      help: 'Segmind credits left, as last reported to any worker by Segmind (no sample until one has been).',
      registers,
      async collect() {
        if (!sources.credits) return;
        // Redis not answering: the last balance read stays the last one observed.
        const balance = await sources.credits().catch(() => undefined);
        if (balance !== undefined) this.set(balance);
      },
    }),
    queueJobs: new Gauge({
      name: 'renderq_queue_jobs',
      help: 'Jobs in each queue by BullMQ state.',
      labelNames: ['queue', 'state'] as const,
      registers,
      async collect() {
        const reading = queueCounts();
        if (!reading) return;
        this.reset();
        for (const { queue, counts } of await reading) {
          for (const [state, count] of Object.entries(counts)) this.set({ queue, state }, count);
        }
      },
    }),
    queueReadyJobs: new Gauge({
      name: 'renderq_queue_ready_jobs',
      help:
        'Jobs a worker could take now, per queue: waiting, prioritized and delayed jobs whose time has come ' +
        '(not requests waiting at Segmind for their next poll). The autoscaling signal.',
      labelNames: ['queue'] as const,
      registers,
      async collect() {
        const reading = queueCounts();
        if (!reading) return;
        this.reset();
        for (const { queue, ready } of await reading) if (ready !== undefined) this.set({ queue }, ready);
      },
    }),
    webhookDeliveries: new Counter({
      name: 'renderq_webhook_deliveries_total',
      help: 'Webhook delivery attempts by outcome.',
      labelNames: ['outcome'] as const,
      registers,
    }) as ClosedCounter<LabelsOf<'renderq_webhook_deliveries_total'>>,
    webhookDeliveryDuration: new Histogram({
      name: 'renderq_webhook_delivery_duration_seconds',
      help: 'Time from sending a webhook to its answer (or giving up on one).',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30],
      registers,
    }),
    webhookEventsFinished: new Counter({
      name: 'renderq_webhook_events_finished_total',
      help: 'Webhook events done with: delivered, gone (the receiver answered 410) or failed (retries ran out).',
      labelNames: ['status'] as const,
      registers,
    }) as ClosedCounter<LabelsOf<'renderq_webhook_events_finished_total'>>,
    webhookHostBackoffs: new Counter({
      name: 'renderq_webhook_host_backoffs_total',
      help: 'Deliveries held back because their host kept failing.',
      registers,
    }),
    segmindAmbiguousSubmits: new Counter({
      name: 'renderq_segmind_ambiguous_submits_total',
      help: 'Submits whose answer never arrived, by the policy applied.',
      labelNames: ['policy'] as const,
      registers,
    }) as ClosedCounter<LabelsOf<'renderq_segmind_ambiguous_submits_total'>>,
    segmindInflight: new ObservedGauge({
      name: 'renderq_segmind_inflight_requests',
      help: 'Segmind requests submitted and not yet finished, across all workers (the poll queue’s jobs).',
      registers,
      async collect() {
        const reading = queueCounts();
        if (!reading) return;
        const poll = (await reading).find((queue) => queue.queue === 'poll')?.counts ?? {};
        const { active = 0, waiting = 0, delayed = 0, prioritized = 0 } = poll;
        this.set(active + waiting + delayed + prioritized);
      },
    }),
    segmindSubmitRate: new ObservedGauge({
      name: 'renderq_segmind_submit_rate',
      help: 'Submits per second the rate budget shared by every worker on the key allows now (learned from 429s).',
      registers,
      async collect() {
        const budget = await sources.submitBudget?.().catch(() => undefined);
        if (budget) this.set(budget.perSecond);
      },
    }),
    segmindSubmitsHeld: new ObservedGauge({
      name: 'renderq_segmind_submits_held_seconds',
      help: 'How long a 429 still holds every submit (0: none).',
      registers,
      async collect() {
        const budget = await sources.submitBudget?.().catch(() => undefined);
        if (budget) this.set(budget.heldForMs / 1000);
      },
    }),
    pollsPerJob: new Histogram({
      name: 'renderq_segmind_polls_per_job',
      help: 'Status polls made for one job.',
      labelNames: ['model'] as const,
      buckets: [1, 2, 3, 4, 5, 8, 12, 20, 50, 100],
      registers,
    }),
    reconcilerRequeued: new Counter({
      name: 'renderq_reconciler_requeued_total',
      help: 'Jobs and webhook events whose BullMQ job was lost (or finished early) and that the reconciler queued again, by kind.',
      labelNames: ['kind'] as const,
      registers,
    }) as ClosedCounter<LabelsOf<'renderq_reconciler_requeued_total'>>,
    queuePaused: new Gauge({
      name: 'renderq_queue_paused',
      help: '1 while taking jobs is paused, by reason.',
      labelNames: ['reason'] as const,
      registers,
      async collect() {
        if (!sources.pause) return;
        const state = await sources.pause().catch(() => undefined);
        if (!state) return;
        for (const reason of PAUSE_REASONS) this.set({ reason }, state.paused && state.reason === reason ? 1 : 0);
      },
    }),
    batchUploadsInProgress: new Gauge({
      name: 'renderq_batch_uploads_in_progress',
      help: 'Batch uploads this API process is reading now (at most BATCH_UPLOAD_CONCURRENCY).',
      // A worker reads no uploads: it does not claim to know how many there are.
      registers: options.role === 'worker' ? [] : registers,
    }),
    requestsRefused: new Counter({
      name: 'renderq_requests_refused_total',
      help:
        'Requests and connections the API refused to protect itself, by reason: enqueue_rate (429), ' +
        'upload_slots_per_tenant (429), upload_slots (503), max_connections and max_connections_per_ip (503), ' +
        'headers_timeout, request_timeout, idle_timeout (408).',
      labelNames: ['reason'] as const,
      registers,
    }) as ClosedCounter<LabelsOf<'renderq_requests_refused_total'>>,
    /** Reads the shared gauges from `more` (added to, or replacing, the sources given when created). */
    readFrom(more: MetricSources): void {
      sources = { ...sources, ...more };
      depths = undefined;
    },
  };
}

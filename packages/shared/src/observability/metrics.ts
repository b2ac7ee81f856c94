/**
 * Every renderq metric, defined once on one registry per process. The contract's
 * metrics (docs/metrics.md) come first; the rest are what an operator needs
 * to see a problem before users do.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export type SegmindOperation = 'submit' | 'status' | 'result' | 'credits' | 'download';

/** What the reconciler queued again: a job still queued, a job mid-work, or a pending webhook event. */
export type ReconciledKind = 'queued_job' | 'working_job' | 'webhook_event';

export interface QueueCounts {
  readonly queue: string;
  readonly counts: Readonly<Record<string, number>>;
}

export interface MetricsOptions {
  /** Read queue depths when scraped; unset where the process holds no queue. */
  readonly queueCounts?: () => Promise<readonly QueueCounts[]>;
  /** Node.js process metrics (memory, event loop). @defaultValue true */
  readonly processMetrics?: boolean;
}

export type Metrics = ReturnType<typeof createMetrics>;

export function createMetrics(options: MetricsOptions = {}) {
  const registry = new Registry();
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const queueCounts = options.queueCounts;

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
    }),
    jobDuration: new Histogram({
      name: 'renderq_job_duration_seconds',
      help: 'Time from a job’s creation to its finish.',
      labelNames: ['model'] as const,
      buckets: [1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800],
      registers,
    }),
    segmindRequests: new Counter({
      name: 'renderq_segmind_requests_total',
      help: 'Requests to Segmind by operation and HTTP status code ("error" when no answer came).',
      labelNames: ['operation', 'status_code'] as const,
      registers,
    }),
    segmindCreditsRemaining: new Gauge({
      name: 'renderq_segmind_credits_remaining',
      help: 'Segmind credits left, as last reported by Segmind.',
      registers,
    }),
    queueJobs: new Gauge({
      name: 'renderq_queue_jobs',
      help: 'Jobs in each queue by BullMQ state.',
      labelNames: ['queue', 'state'] as const,
      registers,
      async collect() {
        if (!queueCounts) return;
        this.reset();
        for (const { queue, counts } of await queueCounts()) {
          for (const [state, count] of Object.entries(counts)) this.set({ queue, state }, count);
        }
      },
    }),
    webhookDeliveries: new Counter({
      name: 'renderq_webhook_deliveries_total',
      help: 'Webhook delivery attempts by outcome.',
      labelNames: ['outcome'] as const,
      registers,
    }),
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
    }),
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
    }),
    segmindInflight: new Gauge({
      name: 'renderq_segmind_inflight_requests',
      help: 'Segmind requests submitted and not yet finished, followed by this process.',
      registers,
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
    }),
    queuePaused: new Gauge({
      name: 'renderq_queue_paused',
      help: '1 while taking jobs is paused, by reason.',
      labelNames: ['reason'] as const,
      registers,
    }),
    batchUploadsInProgress: new Gauge({
      name: 'renderq_batch_uploads_in_progress',
      help: 'Batch uploads this API process is reading now (at most BATCH_UPLOAD_CONCURRENCY).',
      registers,
    }),
    requestsRefused: new Counter({
      name: 'renderq_requests_refused_total',
      help:
        'Requests and connections the API refused to protect itself, by reason: enqueue_rate (429), upload_slots ' +
        '(503), max_connections (503), headers_timeout, request_timeout, idle_timeout (408).',
      labelNames: ['reason'] as const,
      registers,
    }),
  };
}

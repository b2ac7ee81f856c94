/**
 * The metrics of jobs and the queues they wait in: accepted, finished, failed, how long
 * they and each part of their life took, the queues' depths and pause, and the jobs the
 * reconciler queued again.
 */
import { PauseReason } from '@renderq/contract';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { ClosedCounter, ClosedHistogram, LabelsOf } from './metric-labels.js';
import type { MetricReadings } from './metric-sources.js';

const PAUSE_REASONS = PauseReason.options;

export const jobsEnqueued = (registers: Registry[]) =>
  new Counter({
    name: 'renderq_jobs_enqueued_total',
    help: 'Jobs accepted and enqueued, by model.',
    labelNames: ['model'] as const,
    registers,
  });

export const jobsFinished = (registers: Registry[]) =>
  new Counter({
    name: 'renderq_jobs_finished_total',
    help: 'Jobs that reached a final status, by model and status.',
    labelNames: ['model', 'status'] as const,
    registers,
  }) as ClosedCounter<LabelsOf<'renderq_jobs_finished_total', 'model'>>;

export const jobDuration = (registers: Registry[]) =>
  new Histogram({
    name: 'renderq_job_duration_seconds',
    help: 'Time from a job’s creation to its finish.',
    labelNames: ['model'] as const,
    buckets: [1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800],
    registers,
  });

export const jobStageSeconds = (registers: Registry[]) =>
  new Histogram({
    name: 'renderq_job_stage_seconds',
    help: 'Time a job spent in one part of its life: queue_wait (creation to submit), segmind (submitted to result seen), store (outputs downloaded and stored).',
    labelNames: ['model', 'stage'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800],
    registers,
  }) as ClosedHistogram<LabelsOf<'renderq_job_stage_seconds', 'model'>>;

export const jobsFailed = (registers: Registry[]) =>
  new Counter({
    name: 'renderq_jobs_failed_total',
    help: 'Jobs that failed, by model and error code (every code, what it means and what to do: docs/errors.md).',
    labelNames: ['model', 'code'] as const,
    registers,
  }) as ClosedCounter<LabelsOf<'renderq_jobs_failed_total', 'model'>>;

export const queueJobs = (registers: Registry[], readings: MetricReadings) =>
  new Gauge({
    name: 'renderq_queue_jobs',
    help: 'Jobs in each queue by BullMQ state.',
    labelNames: ['queue', 'state'] as const,
    registers,
    async collect() {
      const reading = readings.queueCounts();
      if (!reading) return;
      this.reset();
      for (const { queue, counts } of await reading) {
        for (const [state, count] of Object.entries(counts)) this.set({ queue, state }, count);
      }
    },
  });

export const queueReadyJobs = (registers: Registry[], readings: MetricReadings) =>
  new Gauge({
    name: 'renderq_queue_ready_jobs',
    help:
      'Jobs a worker could take now, per queue: waiting, prioritized and delayed jobs whose time has come ' +
      '(not requests waiting at Segmind for their next poll). The autoscaling signal.',
    labelNames: ['queue'] as const,
    registers,
    async collect() {
      const reading = readings.queueCounts();
      if (!reading) return;
      this.reset();
      for (const { queue, ready } of await reading) if (ready !== undefined) this.set({ queue }, ready);
    },
  });

export const queuePaused = (registers: Registry[], readings: MetricReadings) =>
  new Gauge({
    name: 'renderq_queue_paused',
    help: '1 while taking jobs is paused, by reason.',
    labelNames: ['reason'] as const,
    registers,
    async collect() {
      const { sources } = readings;
      if (!sources.pause) return;
      const state = await sources.pause().catch(() => undefined);
      if (!state) return;
      for (const reason of PAUSE_REASONS) this.set({ reason }, state.paused && state.reason === reason ? 1 : 0);
    },
  });

export const reconcilerRequeued = (registers: Registry[]) =>
  new Counter({
    name: 'renderq_reconciler_requeued_total',
    help: 'Jobs and webhook events whose BullMQ job was lost (or finished early) and that the reconciler queued again, by kind.',
    labelNames: ['kind'] as const,
    registers,
  }) as ClosedCounter<LabelsOf<'renderq_reconciler_requeued_total'>>;

export const workerStalled = (registers: Registry[]) =>
  new Gauge({
    name: 'renderq_worker_stalled',
    help: 'Per queue this worker consumes: 1 while jobs it could take have waited WORKER_STALL_SECONDS and it took none.',
    labelNames: ['queue'] as const,
    registers,
  });

export const workerRenewals = (registers: Registry[]) =>
  new Counter({
    name: 'renderq_worker_renewals_total',
    help: 'BullMQ workers replaced (fresh connections) because they stopped taking jobs that were due.',
    labelNames: ['queue'] as const,
    registers,
  }) as ClosedCounter<LabelsOf<'renderq_worker_renewals_total'>>;

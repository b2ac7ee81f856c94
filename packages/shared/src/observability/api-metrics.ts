/**
 * The API's own metrics: what it refused to protect itself, the batch uploads it is reading, and
 * the tenants' backlogs it admits work against.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { ClosedCounter, LabelsOf } from './metric-labels.js';
import type { MetricReadings } from './metric-sources.js';

export const requestsRefused = (registers: Registry[]) =>
  new Counter({
    name: 'renderq_requests_refused_total',
    help:
      'Requests and connections the API refused to protect itself, by reason: enqueue_rate and backlog_quota (429), ' +
      'upload_slots_per_tenant (429), upload_slots and redis_memory (503), max_connections and max_connections_per_ip (503), ' +
      'headers_timeout, request_timeout, idle_timeout (408).',
    labelNames: ['reason'] as const,
    registers,
  }) as ClosedCounter<LabelsOf<'renderq_requests_refused_total'>>;

export const batchUploadsInProgress = (registers: Registry[]) =>
  new Gauge({
    name: 'renderq_batch_uploads_in_progress',
    help: 'Batch uploads this API process is reading now (at most BATCH_UPLOAD_CONCURRENCY).',
    registers,
  });

/** Tenants a scrape names; the rest are summed as one series, so 10,000 tenants are 21 series. */
const NAMED_TENANTS = 20;
/** No tenant can be called this (tenant names are letters, digits, `_`, `.` and `-`). */
const OTHER_TENANTS = '(others)';

export const tenantUnfinishedJobs = (registers: Registry[], readings: MetricReadings) =>
  new Gauge({
    name: 'renderq_tenant_unfinished_jobs',
    help:
      `Each tenant's unfinished jobs (queued or running), as its backlog quota counts them: the ${NAMED_TENANTS} ` +
      `with the most by name, the others summed as tenant="${OTHER_TENANTS}".`,
    labelNames: ['tenant'] as const,
    registers,
    async collect() {
      const read = readings.sources.tenantBacklogs;
      if (!read) return;
      // Redis not answering: the last reading stays.
      const counts = await read().catch(() => undefined);
      if (!counts) return;
      const largest = [...counts].filter(([, jobs]) => jobs > 0).sort(([, a], [, b]) => b - a);
      this.reset();
      for (const [tenant, jobs] of largest.slice(0, NAMED_TENANTS)) this.set({ tenant }, jobs);
      if (largest.length > NAMED_TENANTS) {
        this.set(
          { tenant: OTHER_TENANTS },
          largest.slice(NAMED_TENANTS).reduce((sum, [, jobs]) => sum + jobs, 0),
        );
      }
    },
  });

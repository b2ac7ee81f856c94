/**
 * The API's own metrics: what it refused to protect itself, and the batch uploads it is reading.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { ClosedCounter, LabelsOf } from './metric-labels.js';

export const requestsRefused = (registers: Registry[]) =>
  new Counter({
    name: 'renderq_requests_refused_total',
    help:
      'Requests and connections the API refused to protect itself, by reason: enqueue_rate and backlog_quota (429), ' +
      'spend_budget (402), ' +
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

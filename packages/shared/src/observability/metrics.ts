/**
 * Every renderq metric on one registry per process: createMetrics makes each of them
 * (defined by area in job-, segmind-, webhook- and api-metrics.ts), in the order the
 * exposition lists them. The contract's metrics (docs/metrics.md) are among them; the
 * rest are what an operator needs to see a problem before users do.
 *
 * A gauge tells only what its process knows: facts shared by every process (the
 * credit balance last observed, queue depths, the pause) are read from Redis when
 * scraped, so the API and every worker agree; a gauge with nothing observed yet has
 * no sample rather than a made-up 0; and a gauge of one kind of process (the API's
 * batch uploads) is exposed only by that kind.
 */
import { collectDefaultMetrics, Registry } from 'prom-client';
import * as api from './api-metrics.js';
import * as jobs from './job-metrics.js';
import { MetricReadings, type MetricSources } from './metric-sources.js';
import * as segmind from './segmind-metrics.js';
import * as tenants from './tenant-metrics.js';
import * as webhooks from './webhook-metrics.js';

export interface MetricsOptions extends MetricSources {
  /** Node.js process metrics (memory, event loop). @defaultValue true */
  readonly processMetrics?: boolean;
  /** The kind of process: gauges only another kind can know are not exposed. @defaultValue both kinds' */
  readonly role?: 'api' | 'worker';
}

export type Metrics = ReturnType<typeof createMetrics>;

export function createMetrics(options: MetricsOptions = {}) {
  const registry = new Registry();
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const readings = new MetricReadings(options);

  // A metric registers as it is made: this order is the order of /metrics.
  return {
    registry,
    jobsEnqueued: jobs.jobsEnqueued(registers),
    jobsFinished: jobs.jobsFinished(registers),
    jobDuration: jobs.jobDuration(registers),
    jobStageSeconds: jobs.jobStageSeconds(registers),
    jobsFailed: jobs.jobsFailed(registers),
    segmindRequests: segmind.segmindRequests(registers),
    segmindCreditsRemaining: segmind.segmindCreditsRemaining(registers, readings),
    queueJobs: jobs.queueJobs(registers, readings),
    queueReadyJobs: jobs.queueReadyJobs(registers, readings),
    webhookDeliveries: webhooks.webhookDeliveries(registers),
    webhookDeliveryDuration: webhooks.webhookDeliveryDuration(registers),
    webhookEventsFinished: webhooks.webhookEventsFinished(registers),
    webhookHostBackoffs: webhooks.webhookHostBackoffs(registers),
    segmindAmbiguousSubmits: segmind.segmindAmbiguousSubmits(registers),
    segmindInflight: segmind.segmindInflight(registers, readings),
    segmindSubmitRate: segmind.segmindSubmitRate(registers, readings),
    segmindSubmitsHeld: segmind.segmindSubmitsHeld(registers, readings),
    segmindOutage: segmind.segmindOutage(registers, readings),
    segmindOldestRequestAge: segmind.segmindOldestRequestAge(registers, readings),
    pollsPerJob: segmind.pollsPerJob(registers),
    reconcilerRequeued: jobs.reconcilerRequeued(registers),
    // A worker's own: the API consumes no queue.
    workerStalled: jobs.workerStalled(options.role === 'api' ? [] : registers),
    workerRenewals: jobs.workerRenewals(options.role === 'api' ? [] : registers),
    queuePaused: jobs.queuePaused(registers, readings),
    // A worker reads no uploads: it does not claim to know how many there are.
    batchUploadsInProgress: api.batchUploadsInProgress(options.role === 'worker' ? [] : registers),
    requestsRefused: api.requestsRefused(registers),
    tenantQueueWait: tenants.tenantQueueWait(registers),
    tenantSubmits: tenants.tenantSubmits(registers),
    tenantSpend: tenants.tenantSpend(registers),
    /** The label each tenant's samples carry in this process (bounded). */
    tenantLabels: new tenants.TenantLabels(),
    // Read from Redis, but only the API is given where: a worker does not claim to know.
    tenantUnfinishedJobs: tenants.tenantUnfinishedJobs(options.role === 'worker' ? [] : registers, readings),
    tenantWaitingJobs: tenants.tenantWaitingJobs(options.role === 'worker' ? [] : registers, readings),
    tenantFairShare: tenants.tenantFairShare(options.role === 'worker' ? [] : registers, readings),
    tenantBudgetUsed: tenants.tenantBudgetUsed(options.role === 'worker' ? [] : registers, readings),
    /** Reads the shared gauges from `more` (added to, or replacing, the sources given when created). */
    readFrom(more: MetricSources): void {
      readings.readFrom(more);
    },
  };
}

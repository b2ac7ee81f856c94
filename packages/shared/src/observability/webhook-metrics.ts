/** The metrics of webhook deliveries: attempts by outcome, their time, the events done with, hosts held back. */
import { Counter, Histogram, type Registry } from 'prom-client';
import type { ClosedCounter, LabelsOf } from './metric-labels.js';

export const webhookDeliveries = (registers: Registry[]) =>
  new Counter({
    name: 'renderq_webhook_deliveries_total',
    help: 'Webhook delivery attempts by outcome.',
    labelNames: ['outcome'] as const,
    registers,
  }) as ClosedCounter<LabelsOf<'renderq_webhook_deliveries_total'>>;

export const webhookDeliveryDuration = (registers: Registry[]) =>
  new Histogram({
    name: 'renderq_webhook_delivery_duration_seconds',
    help: 'Time from sending a webhook to its answer (or giving up on one).',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30],
    registers,
  });

export const webhookEventsFinished = (registers: Registry[]) =>
  new Counter({
    name: 'renderq_webhook_events_finished_total',
    help: 'Webhook events done with: delivered, gone (the receiver answered 410) or failed (retries ran out).',
    labelNames: ['status'] as const,
    registers,
  }) as ClosedCounter<LabelsOf<'renderq_webhook_events_finished_total'>>;

export const webhookHostBackoffs = (registers: Registry[]) =>
  new Counter({
    name: 'renderq_webhook_host_backoffs_total',
    help: 'Deliveries held back because their host kept failing.',
    registers,
  });

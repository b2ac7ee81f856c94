/**
 * The worker's webhook side: the webhooks queue's processor with what it needs (the
 * sender, host backoff, payloads with fresh output links), and the recovery of events
 * whose publishing a crash cut off. Started only with WEBHOOK_SECRET set.
 */
import {
  type Config,
  type JobStore,
  type Logger,
  type Metrics,
  type OutputLinks,
  QUEUE_NAMES,
  type RedisConnection,
  type WebhookJobData,
  type WebhookQueue,
} from '@renderq/shared';
import { Worker, type WorkerOptions } from 'bullmq';
import { deliveryStep } from './delivery-step.js';
import { HostBackoff } from './host-backoff.js';
import { WebhookSender } from './webhook-sender.js';

export interface WebhookWorkerOptions {
  readonly config: Config;
  readonly secrets: readonly string[];
  readonly redis: RedisConnection;
  readonly webhooks: WebhookQueue;
  readonly store: JobStore;
  readonly links: OutputLinks;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly workerOptions: Omit<WorkerOptions, 'concurrency'>;
}

export interface RunningWebhookWorker {
  /** Publishes events a crash left in the outbox. */
  recover(): Promise<number>;
  close(): Promise<void>;
}

export function startWebhookWorker(options: WebhookWorkerOptions): RunningWebhookWorker {
  const { config, redis, webhooks, metrics, logger } = options;
  const sender = new WebhookSender({
    timeoutMs: config.webhooks.timeoutMs,
    allowPrivate: config.webhooks.allowPrivate,
  });
  const worker = new Worker<WebhookJobData>(
    QUEUE_NAMES.webhooks,
    deliveryStep({
      events: webhooks.events,
      sender,
      hosts: new HostBackoff({ redis, prefix: config.redis.prefix, threshold: config.webhooks.hostFailureThreshold }),
      payloads: { store: options.store, links: options.links },
      metrics,
      logger: logger.child({ component: 'webhooks' }),
      secrets: options.secrets,
      retryDelaysMs: config.webhooks.retryDelaysMs,
    }),
    { ...options.workerOptions, concurrency: config.webhooks.concurrency },
  );
  worker.on('error', (error) => logger.error({ err: error }, 'webhook worker error'));
  return {
    recover: () => webhooks.events.recoverOutbox(),
    close: async () => {
      await worker.close();
      await sender.close();
    },
  };
}

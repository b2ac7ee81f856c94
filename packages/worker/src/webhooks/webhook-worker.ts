/**
 * The worker's webhook side: the webhooks queue's processor with what it needs (the
 * sender, host backoff, payloads with fresh output links), and the recovery of events
 * whose publishing a crash cut off. Started only with WEBHOOK_SECRET set.
 *
 * Deliveries use a Redis connection of their own with auto-pipelining: each of the
 * WEBHOOK_CONCURRENCY deliveries in flight makes a few small reads and writes, and the
 * commands issued in one tick then leave in one write instead of one each.
 */
import {
  type Config,
  closeRedis,
  connectionCopy,
  type JobStore,
  type Logger,
  type Metrics,
  type OutputLinks,
  QUEUE_NAMES,
  type RedisConnection,
  type Traces,
  WebhookEventStore,
  type WebhookQueue,
} from '@renderq/shared';
import type { Processor, WorkerOptions } from 'bullmq';
import { Consumer } from '../consumer.js';
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
  readonly traces: Traces;
  readonly workerOptions: Omit<WorkerOptions, 'concurrency'>;
}

export interface RunningWebhookWorker {
  /** The webhooks queue's consumer (watched for progress like the others). */
  readonly consumer: Consumer;
  /** Publishes events a crash left in the outbox. */
  recover(): Promise<number>;
  close(): Promise<void>;
}

export function startWebhookWorker(options: WebhookWorkerOptions): RunningWebhookWorker {
  const { config, webhooks, metrics, logger } = options;
  const prefix = config.redis.prefix;
  const redis = connectionCopy(options.redis, true, 'renderq-webhooks');
  redis.on('error', (error) => logger.error({ err: error }, 'Redis connection error (webhooks)'));
  const sender = new WebhookSender({
    timeoutMs: config.webhooks.timeoutMs,
    allowPrivate: config.webhooks.allowPrivate,
  });
  const step = deliveryStep({
    events: new WebhookEventStore({ redis, queue: webhooks.queue, prefix }),
    sender,
    hosts: new HostBackoff({ redis, prefix, threshold: config.webhooks.hostFailureThreshold }),
    // Reads only: the queue a store needs for creating jobs is never used here.
    payloads: { store: options.store.withConnection(redis), links: options.links },
    metrics,
    logger: logger.child({ component: 'webhooks' }),
    traces: options.traces,
    secrets: options.secrets,
    retryDelaysMs: config.webhooks.retryDelaysMs,
  });
  const consumer = new Consumer(
    QUEUE_NAMES.webhooks,
    step as Processor,
    { ...options.workerOptions, concurrency: config.webhooks.concurrency },
    logger.child({ component: 'webhooks' }),
  );
  consumer.start();
  return {
    consumer,
    recover: () => webhooks.events.recoverOutbox(),
    close: async () => {
      await consumer.close();
      await sender.close();
      await closeRedis(redis);
    },
  };
}

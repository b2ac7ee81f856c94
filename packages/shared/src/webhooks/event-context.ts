/** What every part of the webhook event store works with: one connection, the webhooks queue, the prefix. */
import type { Queue } from 'bullmq';
import type { WebhookJobData } from '../queues.js';
import type { RedisConnection } from '../redis/create-redis.js';

export interface EventContext {
  readonly redis: RedisConnection;
  readonly queue: Queue<WebhookJobData>;
  /** RENDERQ_PREFIX; also the BullMQ prefix. */
  readonly prefix: string;
}

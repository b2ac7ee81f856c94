/** What every part of the job store works with: one connection, the render queue and the settings. */
import type { Queue } from 'bullmq';
import type { RenderJobData } from '../queues.js';
import type { RedisConnection } from '../redis/create-redis.js';
import type { WebhookEventStore } from '../webhooks/event-store.js';

export interface StoreContext {
  readonly redis: RedisConnection;
  readonly queue: Queue<RenderJobData>;
  /** RENDERQ_PREFIX; also the BullMQ prefix. */
  readonly prefix: string;
  /** How long finished records stay readable. */
  readonly retentionMs: number;
  /** Jobs and BullMQ adds per round trip when creating a batch. */
  readonly chunkSize: number;
  /** Where webhook events go; unset (no WEBHOOK_SECRET): finishing jobs records no events. */
  readonly events: WebhookEventStore | undefined;
  /** FAIR_SHARE: new jobs wait in their tenant's ready set for their share (fair-share.ts), not on the render queue. */
  readonly fairShare: boolean;
}

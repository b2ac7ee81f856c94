/** Queue names and the BullMQ options every producer and consumer must agree on. */
import type { JobsOptions, KeepJobs, QueueOptions } from 'bullmq';
import type { RedisConnection } from './redis/create-redis.js';

export const QUEUE_NAMES = {
  /** Jobs waiting to be submitted to Segmind; paused for everyone when the cause is global. */
  render: 'render',
  /** Jobs at Segmind: polled (as delayed step jobs) until they finish, then their outputs stored. */
  poll: 'poll',
  /** Webhook events to deliver: retried on their own schedule, never holding up a job. */
  webhooks: 'webhooks',
} as const;
/** What a render or poll job carries in BullMQ: only the id; the record in Redis is the truth. */
export interface RenderJobData {
  readonly jobId: string;
}

/** What a webhooks job carries: the event's id; the event's record in Redis is the truth. */
export interface WebhookJobData {
  readonly eventId: string;
}

/** Priorities: 1 runs first. Single jobs go ahead of batch jobs unless a caller says otherwise. */
export const PRIORITY = { single: 1, batch: 10 } as const;

const RENDER_JOB_OPTIONS: JobsOptions = {
  attempts: 8,
  backoff: { type: 'exponential', delay: 2_000 },
  // The renderq record outlives these: BullMQ's copies are only kept for the dashboard. What is kept
  // of a completed job is each queue's worker's choice (KEEP_COMPLETED), so it is left out here:
  // a job's own option would override its worker's.
  removeOnFail: { age: 24 * 3_600, count: 10_000 },
};

/**
 * What each queue's worker keeps of its completed BullMQ jobs. A render job's work ends when
 * it hands the job to the poll queue (or finds it final): kept, it would only double what a
 * job at Segmind costs in Redis, so only the latest is kept — not none, because keeping a
 * count is what trims the completed render jobs that earlier versions kept for an hour.
 * Completed poll jobs — finished renderq jobs — are kept a while for the dashboard.
 */
export const KEEP_COMPLETED = {
  render: { count: 1 },
  poll: { age: 3_600, count: 10_000 },
} as const satisfies Record<'render' | 'poll', KeepJobs>;

/**
 * Entries kept in each queue's BullMQ event stream (BullMQ's default is 10,000). Nothing in
 * renderq reads the stream (no QueueEvents); it is kept short for whoever looks by hand, since
 * at the default the render and poll streams alone hold about 1.5 MB.
 */
const EVENT_STREAM_LENGTH = 1_000;

export function queueOptions(connection: RedisConnection, prefix: string): QueueOptions {
  return {
    connection,
    prefix,
    defaultJobOptions: RENDER_JOB_OPTIONS,
    streams: { events: { maxLen: EVENT_STREAM_LENGTH } },
  };
}

/**
 * Webhook jobs retry on their own schedule (by moving themselves to delayed, which
 * spends no BullMQ attempt); BullMQ's attempts only cover an unexpected error such as
 * Redis going away mid-attempt.
 */
export const WEBHOOK_JOB_OPTIONS: JobsOptions = {
  attempts: 10,
  backoff: { type: 'exponential', delay: 5_000 },
  removeOnComplete: { age: 3_600, count: 10_000 },
  removeOnFail: { age: 7 * 24 * 3_600, count: 10_000 },
};

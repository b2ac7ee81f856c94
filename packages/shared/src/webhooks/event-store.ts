/**
 * Webhook events as Redis keeps them: the one module through which the job store, the worker's
 * deliveries and reconciler, and the API read and move them — a thin facade over one module per
 * operation (event-outbox, event-reads, event-attempts, pending-events, redeliver-event).
 */

import type { DeliveryAttempt } from '@renderq/contract';
import { Queue } from 'bullmq';
import { QUEUE_NAMES, queueOptions, type WebhookJobData } from '../queues.js';
import type { RedisConnection } from '../redis/create-redis.js';
import { defineScripts } from '../redis/scripts.js';
import {
  type AttemptRecord,
  abandonEvent,
  type HostNote,
  type RecordedAttempt,
  recordAttempt,
} from './event-attempts.js';
import type { EventContext } from './event-context.js';
import { publishEvents, recoverOutbox } from './event-outbox.js';
import { eventsForSubject, readAttempts, readEvent } from './event-reads.js';
import type { WebhookEventRecord } from './events.js';
import { forgetPending, type PendingEventGlance, type PendingPages, pendingEventsToCheck } from './pending-events.js';
import { redeliverEvent } from './redeliver-event.js';

export interface WebhookEventStoreOptions {
  readonly redis: RedisConnection;
  readonly queue: Queue<WebhookJobData>;
  readonly prefix: string;
}

export class WebhookEventStore {
  readonly #ctx: EventContext;

  constructor(options: WebhookEventStoreOptions) {
    defineScripts(options.redis);
    this.#ctx = { redis: options.redis, queue: options.queue, prefix: options.prefix };
  }

  /** Puts recorded events on the webhooks queue. Never throws: what it cannot do, recovery does. */
  publish(ids: readonly string[]): Promise<void> {
    return publishEvents(this.#ctx, ids);
  }

  /** Publishes events recorded more than `olderThanMs` ago and never confirmed. Returns how many. */
  recoverOutbox(olderThanMs = 30_000): Promise<number> {
    return recoverOutbox(this.#ctx, olderThanMs);
  }

  get(id: string): Promise<WebhookEventRecord | undefined> {
    return readEvent(this.#ctx, id);
  }

  /** How many attempts the event's current round has made (also on the event as `round_attempts`). */
  async roundAttempts(id: string): Promise<number> {
    return (await this.get(id))?.round_attempts ?? 0;
  }

  attempts(id: string): Promise<DeliveryAttempt[]> {
    return readAttempts(this.#ctx, id);
  }

  /** The events a job or batch has caused so far (a job causes at most one). */
  forSubject(kind: 'job' | 'batch', subjectId: string): Promise<WebhookEventRecord[]> {
    return eventsForSubject(this.#ctx, kind, subjectId);
  }

  /**
   * Records one attempt and the event's status after it, together — and, given `host`, what the
   * attempt means for its host's backoff, in the same step.
   */
  recordAttempt(id: string, record: AttemptRecord, host?: HostNote): Promise<RecordedAttempt> {
    return recordAttempt(this.#ctx, id, record, host);
  }

  /** Ends an event without an attempt (its subject expired before it could be sent). */
  abandon(id: string): Promise<void> {
    return abandonEvent(this.#ctx, id);
  }

  /** Pending events overdue by `olderThanMs`, a page at a time, each with its delivery job at a glance. */
  pendingEventsToCheck(olderThanMs: number, pages?: PendingPages): AsyncGenerator<PendingEventGlance[]> {
    return pendingEventsToCheck(this.#ctx, olderThanMs, pages);
  }

  /** Drops events from the pending events (no longer pending, or gone). */
  forgetPending(ids: readonly string[]): Promise<void> {
    return forgetPending(this.#ctx, ids);
  }

  /**
   * Sends an event again: a finished event starts a new round of the retry schedule
   * under the same `webhook-id`; a pending one has its next attempt brought forward.
   */
  redeliver(id: string): Promise<WebhookEventRecord | undefined> {
    return redeliverEvent(this.#ctx, id);
  }
}

export interface WebhookQueue {
  readonly queue: Queue<WebhookJobData>;
  readonly events: WebhookEventStore;
}

/** The webhooks queue and the events store over it, for the API and the worker alike. */
export function openWebhookQueue(redis: RedisConnection, prefix: string): WebhookQueue {
  const queue = new Queue<WebhookJobData>(QUEUE_NAMES.webhooks, queueOptions(redis, prefix));
  return { queue, events: new WebhookEventStore({ redis, queue, prefix }) };
}

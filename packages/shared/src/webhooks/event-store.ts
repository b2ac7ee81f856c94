/**
 * Webhook events as Redis keeps them, and their way onto the webhooks queue.
 *
 * An event is recorded by the job store's transition script in the same step as the
 * job (or batch) finishing, with an entry in the outbox; `publish` then adds it to
 * the webhooks queue and clears the entry. If the process dies in between,
 * `recoverOutbox` (run by workers) publishes it later: no event is lost, and since
 * its BullMQ job id is the event id, publishing twice adds it once.
 *
 * Pending events are also indexed by their next attempt (every script that changes an
 * event's status keeps the index), so the worker's reconciler finds a pending event whose
 * delivery job was lost later (removed from a dashboard) without scanning every event.
 */
import { Queue } from 'bullmq';
import { eventAttemptsKey, eventKey, eventOutboxKey, pendingEventsKey, webhookHostKey } from '../jobs/keys.js';
import {
  glanceAtQueueJob,
  pipelineAnswers,
  type QueueJobGlance,
  readQueueJobGlance,
} from '../jobs/queue-job-glance.js';
import { QUEUE_NAMES, queueOptions, WEBHOOK_JOB_OPTIONS, type WebhookJobData } from '../queues.js';
import type { RedisConnection } from '../redis/create-redis.js';
import { defineScripts } from '../redis/scripts.js';
import {
  type AttemptOutcome,
  type DeliveryAttempt,
  EventStatus,
  eventIdFor,
  JOB_EVENT_TYPES,
  type WebhookEventRecord,
  WebhookEventType,
} from './events.js';

/** Attempts kept per event: a day of retries is a handful, redeliveries add a few more. */
const MAX_ATTEMPTS_KEPT = 100;

/** A pending event as the reconciler first sees it: its status and its delivery job at a glance. */
export interface PendingEventGlance {
  readonly id: string;
  /** undefined: the event is gone (expired). */
  readonly status: EventStatus | undefined;
  /** The BullMQ job delivering its current round: `queue_job` once redelivered, else the event's id. */
  readonly queueJob: string;
  /** Only read for a pending event. */
  readonly delivery: QueueJobGlance;
}

export interface WebhookEventStoreOptions {
  readonly redis: RedisConnection;
  readonly queue: Queue<WebhookJobData>;
  readonly prefix: string;
}

/** An attempt's result and what becomes of the event after it. */
export interface AttemptRecord {
  readonly startedAt: number;
  readonly durationMs: number;
  readonly statusCode: number | null;
  readonly outcome: AttemptOutcome;
  readonly error: string | null;
  /** The event's status after this attempt; `nextAttemptAt` is set while it stays pending. */
  readonly status: EventStatus;
  readonly nextAttemptAt: number | null;
}

/**
 * What an attempt says about its receiving host: it answered (a 2xx or a 410 clears the host's
 * failures), or it failed (one more failure in a row; at `threshold` the host is backed off for
 * `baseMs`, doubling with each further failure up to `maxMs`).
 */
export type HostNote =
  | { readonly host: string; readonly result: 'succeeded' }
  | {
      readonly host: string;
      readonly result: 'failed';
      readonly now: number;
      readonly threshold: number;
      readonly baseMs: number;
      readonly maxMs: number;
    };

export interface RecordedAttempt {
  /** The attempt's number among all the event's attempts. */
  readonly attempt: number;
  /** Until when (ms since the epoch) the host's deliveries now wait; 0 when they need not. */
  readonly hostBackedOffUntil: number;
}

export class WebhookEventStore {
  readonly #redis: RedisConnection;
  readonly #queue: Queue<WebhookJobData>;
  readonly #prefix: string;

  constructor(options: WebhookEventStoreOptions) {
    this.#redis = options.redis;
    this.#queue = options.queue;
    this.#prefix = options.prefix;
    defineScripts(this.#redis);
  }

  /** Puts recorded events on the webhooks queue. Never throws: what it cannot do, recovery does. */
  async publish(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    try {
      // Most moves finish one job and cause one event: a plain add, without the pipeline a bulk add
      // builds (costly in ioredis on a connection carrying BullMQ's scripts).
      if (ids.length === 1) {
        const id = ids[0] as string;
        await this.#queue.add('deliver', { eventId: id }, { ...WEBHOOK_JOB_OPTIONS, jobId: id });
      } else {
        await this.#queue.addBulk(
          ids.map((id) => ({ name: 'deliver', data: { eventId: id }, opts: { ...WEBHOOK_JOB_OPTIONS, jobId: id } })),
        );
      }
      await this.#redis.zrem(eventOutboxKey(this.#prefix), ...ids);
    } catch {
      // Left in the outbox for recoverOutbox.
    }
  }

  /** Publishes events recorded more than `olderThanMs` ago and never confirmed. Returns how many. */
  async recoverOutbox(olderThanMs = 30_000): Promise<number> {
    const ids = await this.#redis.zrangebyscore(
      eventOutboxKey(this.#prefix),
      '-inf',
      Date.now() - olderThanMs,
      'LIMIT',
      0,
      1000,
    );
    await this.publish(ids);
    return ids.length;
  }

  async get(id: string): Promise<WebhookEventRecord | undefined> {
    const hash = await this.#redis.hgetall(eventKey(this.#prefix, id));
    return hash.id ? eventFromHash(hash) : undefined;
  }

  /** How many attempts the event's current round has made (also on the event as `round_attempts`). */
  async roundAttempts(id: string): Promise<number> {
    return (await this.get(id))?.round_attempts ?? 0;
  }

  async attempts(id: string): Promise<DeliveryAttempt[]> {
    const entries = await this.#redis.lrange(eventAttemptsKey(this.#prefix, id), 0, -1);
    return entries.map((entry) => {
      const parsed = JSON.parse(entry) as DeliveryAttempt;
      // Attempts recorded before the script kept the JSON as given (it went through cjson) lack their null fields.
      return {
        attempt: parsed.attempt,
        at: parsed.at,
        duration_ms: parsed.duration_ms,
        status_code: parsed.status_code ?? null,
        outcome: parsed.outcome,
        error: parsed.error ?? null,
      };
    });
  }

  /** The events a job or batch has caused so far (a job causes at most one). */
  async forSubject(kind: 'job' | 'batch', subjectId: string): Promise<WebhookEventRecord[]> {
    const types = kind === 'job' ? JOB_EVENT_TYPES : (['batch.completed'] as const);
    const events = await Promise.all(types.map((type) => this.get(eventIdFor(subjectId, type))));
    return events.filter((event): event is WebhookEventRecord => event !== undefined);
  }

  /**
   * Records one attempt and the event's status after it, together — and, given `host`, what the
   * attempt means for its host's backoff, in the same step.
   */
  async recordAttempt(id: string, record: AttemptRecord, host?: HostNote): Promise<RecordedAttempt> {
    // The script numbers the attempt, putting the number in front of these fields.
    const entry: Omit<DeliveryAttempt, 'attempt'> = {
      at: new Date(record.startedAt).toISOString(),
      duration_ms: record.durationMs,
      status_code: record.statusCode,
      outcome: record.outcome,
      error: record.error,
    };
    const keys = [eventKey(this.#prefix, id), eventAttemptsKey(this.#prefix, id), pendingEventsKey(this.#prefix)];
    const args = [
      JSON.stringify(entry),
      record.status,
      record.nextAttemptAt === null ? '' : new Date(record.nextAttemptAt).toISOString(),
      String(MAX_ATTEMPTS_KEPT),
      record.nextAttemptAt === null ? '' : String(record.nextAttemptAt),
      id,
    ];
    if (host) {
      keys.push(webhookHostKey(this.#prefix, host.host));
      args.push(host.result);
      if (host.result === 'failed') {
        args.push(String(host.now), String(host.threshold), String(host.baseMs), String(host.maxMs));
      }
    }
    // record-attempt-3-or-4.lua
    const [attempt, hostBackedOffUntil] = await this.#redis.renderqRecordAttempt(keys.length, ...keys, ...args);
    return { attempt, hostBackedOffUntil };
  }

  /** Ends an event without an attempt (its subject expired before it could be sent). */
  async abandon(id: string): Promise<void> {
    await this.#redis
      .multi()
      .hset(eventKey(this.#prefix, id), { status: 'failed', next_attempt_at: '' })
      .zrem(pendingEventsKey(this.#prefix), id)
      .exec();
  }

  /**
   * Pending events whose next attempt is more than `olderThanMs` past (or that were last
   * checked that long ago), oldest first, a page at a time: each with its delivery job at
   * a glance, and already marked checked (looked at again only after another `olderThanMs`).
   * Two round trips per page, at most `maxPages` pages; events no longer pending are
   * reported with their status, for the caller to forget.
   */
  async *pendingEventsToCheck(
    olderThanMs: number,
    { pageSize = 1_000, maxPages = 5 }: { pageSize?: number; maxPages?: number } = {},
  ): AsyncGenerator<PendingEventGlance[]> {
    const key = pendingEventsKey(this.#prefix);
    let ids = await this.#redis.zrangebyscore(key, '-inf', Date.now() - olderThanMs, 'LIMIT', 0, pageSize);
    for (let page = 1; ids.length > 0; page++) {
      const now = Date.now();
      const read = this.#redis.pipeline();
      for (const id of ids) read.hmget(eventKey(this.#prefix, id), 'status', 'queue_job');
      read.zadd(key, 'XX', ...ids.flatMap((id) => [now, id]));
      const events = pipelineAnswers(await read.exec())
        .slice(0, ids.length)
        .map((answer, i) => {
          const [status, queueJob] = answer as (string | null)[];
          const id = ids[i] as string;
          const parsed = EventStatus.safeParse(status);
          return { id, status: parsed.success ? parsed.data : undefined, queueJob: queueJob || id };
        });
      const pending = events.filter((event) => event.status === 'pending');
      const glance = this.#redis.pipeline();
      for (const event of pending) glanceAtQueueJob(glance, this.#queue, event.queueJob);
      const more = page < maxPages && ids.length === pageSize;
      if (more) glance.zrangebyscore(key, '-inf', now - olderThanMs, 'LIMIT', 0, pageSize);
      const answers = pipelineAnswers(await glance.exec());
      const deliveries = new Map(
        pending.map((event, i) => [event.id, readQueueJobGlance(answers[i * 2], answers[i * 2 + 1])]),
      );
      yield events.map((event) => ({
        ...event,
        delivery: deliveries.get(event.id) ?? { presence: 'missing', dueAt: null },
      }));
      ids = more ? (answers[pending.length * 2] as string[]) : [];
    }
  }

  /** Drops events from the pending events (no longer pending, or gone). */
  async forgetPending(ids: readonly string[]): Promise<void> {
    if (ids.length > 0) await this.#redis.zrem(pendingEventsKey(this.#prefix), ...ids);
  }

  /**
   * Sends an event again: a finished event starts a new round of the retry schedule
   * under the same `webhook-id`; a pending one has its next attempt brought forward.
   */
  async redeliver(id: string): Promise<WebhookEventRecord | undefined> {
    const key = eventKey(this.#prefix, id);
    // redeliver-event-2.lua
    const command = (force: '0' | '1') => {
      const now = Date.now();
      return this.#redis.renderqRedeliverEvent(
        key,
        pendingEventsKey(this.#prefix),
        new Date(now).toISOString(),
        force,
        String(now),
      );
    };
    let queueJob = await command('0');
    if (queueJob === null) return undefined;
    let delayed: Awaited<ReturnType<Queue['getJob']>> | undefined;
    if (queueJob === '') {
      const job = await this.#queue.getJob((await this.#redis.hget(key, 'queue_job')) || id);
      const state = job ? await job.getState() : 'unknown';
      if (state === 'delayed') delayed = job;
      // Pending without a live queue job (BullMQ gave up on it after repeated errors): start afresh.
      if (state === 'unknown' || state === 'failed' || state === 'completed') {
        queueJob = await command('1');
      }
    }
    // Read before the delivery is set going: the answer is the event as redelivery left it (pending),
    // not whatever a fast worker has made of it since.
    const redelivered = await this.get(id);
    await delayed?.promote().catch(() => undefined);
    if (typeof queueJob === 'string' && queueJob !== '') {
      await this.#queue.add('deliver', { eventId: id }, { ...WEBHOOK_JOB_OPTIONS, jobId: queueJob });
    }
    return redelivered;
  }
}

function eventFromHash(hash: Record<string, string>): WebhookEventRecord {
  return {
    id: hash.id ?? '',
    type: WebhookEventType.parse(hash.type),
    subject: { kind: hash.subject_kind === 'batch' ? 'batch' : 'job', id: hash.subject_id ?? '' },
    tenant: hash.tenant ?? '',
    url: hash.url ?? '',
    created_at: hash.created_at ?? '',
    status: EventStatus.parse(hash.status),
    attempts: Number(hash.attempts ?? 0),
    round_attempts: Number(hash.attempts ?? 0) - Number(hash.run_start ?? 0),
    next_attempt_at: hash.status === 'pending' && hash.next_attempt_at ? hash.next_attempt_at : null,
  };
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

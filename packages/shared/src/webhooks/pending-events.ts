/**
 * Pending events indexed by their next attempt (every script that changes an event's status
 * keeps the index), so the worker's reconciler finds a pending event whose delivery job was lost
 * (removed from a dashboard) without scanning every event.
 */

import { EventStatus } from '@renderq/contract';
import { eventKey, pendingEventsKey } from '../redis/keys.js';
import {
  glanceAtQueueJob,
  pipelineAnswers,
  type QueueJobGlance,
  readQueueJobGlance,
} from '../redis/queue-job-glance.js';
import type { EventContext } from './event-context.js';

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

export interface PendingPages {
  readonly pageSize?: number;
  readonly maxPages?: number;
}

/**
 * Pending events whose next attempt is more than `olderThanMs` past (or that were last checked
 * that long ago), oldest first, a page at a time: each with its delivery job at a glance, and
 * already marked checked (looked at again only after another `olderThanMs`). Two round trips per
 * page, at most `maxPages` pages; events no longer pending are reported with their status, for
 * the caller to forget.
 */
export async function* pendingEventsToCheck(
  ctx: EventContext,
  olderThanMs: number,
  { pageSize = 1_000, maxPages = 5 }: PendingPages = {},
): AsyncGenerator<PendingEventGlance[]> {
  const key = pendingEventsKey(ctx.prefix);
  let ids = await ctx.redis.zrangebyscore(key, '-inf', Date.now() - olderThanMs, 'LIMIT', 0, pageSize);
  for (let page = 1; ids.length > 0; page++) {
    const now = Date.now();
    const read = ctx.redis.pipeline();
    for (const id of ids) read.hmget(eventKey(ctx.prefix, id), 'status', 'queue_job');
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
    const glance = ctx.redis.pipeline();
    for (const event of pending) glanceAtQueueJob(glance, ctx.queue, event.queueJob);
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
export async function forgetPending(ctx: EventContext, ids: readonly string[]): Promise<void> {
  if (ids.length > 0) await ctx.redis.zrem(pendingEventsKey(ctx.prefix), ...ids);
}

/**
 * The way from a recorded event onto the webhooks queue. The job store's transition script
 * records an event with an entry in the outbox in the same step as its job (or batch)
 * finishing; `publishEvents` adds it to the queue and clears the entry. If the process dies
 * in between, `recoverOutbox` (run by workers) publishes it later: no event is lost, and since
 * its BullMQ job id is the event id, publishing twice adds it once.
 */

import { WEBHOOK_JOB_OPTIONS } from '../queues.js';
import { eventOutboxKey } from '../redis/keys.js';
import type { EventContext } from './event-context.js';

/** Puts recorded events on the webhooks queue. Never throws: what it cannot do, recovery does. */
export async function publishEvents(ctx: EventContext, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  try {
    // Most moves finish one job and cause one event: a plain add, without the pipeline a bulk add
    // builds (costly in ioredis on a connection carrying BullMQ's scripts).
    if (ids.length === 1) {
      const id = ids[0] as string;
      await ctx.queue.add('deliver', { eventId: id }, { ...WEBHOOK_JOB_OPTIONS, jobId: id });
    } else {
      await ctx.queue.addBulk(
        ids.map((id) => ({ name: 'deliver', data: { eventId: id }, opts: { ...WEBHOOK_JOB_OPTIONS, jobId: id } })),
      );
    }
    await ctx.redis.zrem(eventOutboxKey(ctx.prefix), ...ids);
  } catch {
    // Left in the outbox for recoverOutbox.
  }
}

/** Publishes events recorded more than `olderThanMs` ago and never confirmed. Returns how many. */
export async function recoverOutbox(ctx: EventContext, olderThanMs: number): Promise<number> {
  const ids = await ctx.redis.zrangebyscore(
    eventOutboxKey(ctx.prefix),
    '-inf',
    Date.now() - olderThanMs,
    'LIMIT',
    0,
    1000,
  );
  await publishEvents(ctx, ids);
  return ids.length;
}

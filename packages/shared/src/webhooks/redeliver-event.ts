/**
 * Sending an event again: a finished event starts a new round of the retry schedule under the
 * same `webhook-id`; a pending one has its next attempt brought forward (redeliver-event-2.lua).
 */
import type { Queue } from 'bullmq';
import { WEBHOOK_JOB_OPTIONS } from '../queues.js';
import { eventKey, pendingEventsKey } from '../redis/keys.js';
import type { EventContext } from './event-context.js';
import { readEvent } from './event-reads.js';
import type { WebhookEventRecord } from './events.js';

export async function redeliverEvent(ctx: EventContext, id: string): Promise<WebhookEventRecord | undefined> {
  const key = eventKey(ctx.prefix, id);
  const command = (force: '0' | '1') => {
    const now = Date.now();
    return ctx.redis.renderqRedeliverEvent(
      key,
      pendingEventsKey(ctx.prefix),
      new Date(now).toISOString(),
      force,
      String(now),
    );
  };
  let queueJob = await command('0');
  if (queueJob === null) return undefined;
  let delayed: Awaited<ReturnType<Queue['getJob']>> | undefined;
  if (queueJob === '') {
    const job = await ctx.queue.getJob((await ctx.redis.hget(key, 'queue_job')) || id);
    const state = job ? await job.getState() : 'unknown';
    if (state === 'delayed') delayed = job;
    // Pending without a live queue job (BullMQ gave up on it after repeated errors): start afresh.
    if (state === 'unknown' || state === 'failed' || state === 'completed') {
      queueJob = await command('1');
    }
  }
  // Read before the delivery is set going: the answer is the event as redelivery left it (pending),
  // not whatever a fast worker has made of it since.
  const redelivered = await readEvent(ctx, id);
  await delayed?.promote().catch(() => undefined);
  if (typeof queueJob === 'string' && queueJob !== '') {
    await ctx.queue.add('deliver', { eventId: id }, { ...WEBHOOK_JOB_OPTIONS, jobId: queueJob });
  }
  return redelivered;
}

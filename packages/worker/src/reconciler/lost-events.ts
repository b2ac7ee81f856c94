/**
 * The reconciler's pass over pending webhook events. An event still pending a while
 * after its next attempt was due is checked against its delivery job: a page of them
 * costs two round trips. One whose delivery job is gone (removed from a dashboard) or
 * finished is queued again under the BullMQ job id its current round uses, so no round
 * and no attempt is spent and the receiver sees the same `webhook-id`; one whose delayed
 * delivery is long past its time is promoted. Delivered, gone and failed events are
 * only dropped from the index.
 */
import type { Logger, Metrics, PendingEventGlance, WebhookQueue } from '@renderq/shared';
import { WEBHOOK_JOB_OPTIONS } from '@renderq/shared';
import { emptyReport, type PassOptions, type PassReport } from './pass.js';

export interface LostEventsDeps {
  readonly webhooks: WebhookQueue;
  readonly logger: Logger;
  readonly metrics: Metrics;
}

export async function reconcileLostEvents(deps: LostEventsDeps, options: PassOptions): Promise<PassReport> {
  const report = emptyReport();
  for await (const page of deps.webhooks.events.pendingEventsToCheck(options.staleMs, options)) {
    report.pages++;
    report.checked += page.length;
    const pending = page.filter((event) => event.status === 'pending');
    if (pending.length < page.length) {
      await deps.webhooks.events.forgetPending(
        page.filter((event) => event.status !== 'pending').map((event) => event.id),
      );
    }
    const lost = pending.filter((event) => event.delivery.presence !== 'present');
    const overdueBefore = Date.now() - options.staleMs;
    const overdue = pending.filter(
      (event) =>
        event.delivery.presence === 'present' && event.delivery.dueAt !== null && event.delivery.dueAt < overdueBefore,
    );
    const [, promoted] = await Promise.all([
      Promise.all(lost.map((event) => requeueEvent(deps, event))),
      Promise.all(overdue.map((event) => promote(deps, event))),
    ]);
    report.requeued += lost.length;
    report.promoted += promoted.filter(Boolean).length;
  }
  return report;
}

async function requeueEvent(deps: LostEventsDeps, event: PendingEventGlance): Promise<void> {
  const queue = deps.webhooks.queue;
  // A finished delivery job keeps its id taken: it goes first, or the add would be a no-op.
  if (event.delivery.presence === 'finished') await queue.remove(event.queueJob);
  await queue.add('deliver', { eventId: event.id }, { ...WEBHOOK_JOB_OPTIONS, jobId: event.queueJob });
  deps.metrics.reconcilerRequeued.inc({ kind: 'webhook_event' });
  deps.logger.warn(
    { event_id: event.id, queue_job: event.queueJob, bullmq: event.delivery.presence },
    `re-queued a pending webhook event whose delivery job was ${event.delivery.presence === 'missing' ? 'gone' : 'finished'}`,
  );
}

async function promote(deps: LostEventsDeps, event: PendingEventGlance): Promise<boolean> {
  const delayed = await deps.webhooks.queue.getJob(event.queueJob);
  if (!delayed) return false;
  try {
    await delayed.promote();
  } catch {
    return false; // It moved on since the glance: nothing to promote.
  }
  deps.logger.warn(
    { event_id: event.id, queue_job: event.queueJob, due_at: new Date(event.delivery.dueAt ?? 0).toISOString() },
    'promoted a webhook delivery long past its time',
  );
  return true;
}

/**
 * `--webhook-events` as the contract's event types: a single job's may name the
 * `job.*` events and `tenant.budget_warning`, a batch's also `batch.completed`. A name
 * the job or batch cannot have is a usage error, said before anything is sent.
 */
import type { SingleJobEventType, WebhookEventType } from '@renderq/client';
import { UsageError } from './errors.js';

// Records rather than arrays: the compiler then checks each list holds every event of its type and no other.
const JOB_EVENTS: Record<SingleJobEventType, true> = {
  'job.completed': true,
  'job.failed': true,
  'job.cancelled': true,
  'job.expired': true,
  'tenant.budget_warning': true,
};
const BATCH_EVENTS: Record<WebhookEventType, true> = { ...JOB_EVENTS, 'batch.completed': true };

/** The events a single job's webhook gets. */
export function jobEventsFlag(names: readonly string[]): SingleJobEventType[] {
  return eventsFlag(names, JOB_EVENTS, 'a single job');
}

/** The events a batch's webhook gets. */
export function batchEventsFlag(names: readonly string[]): WebhookEventType[] {
  return eventsFlag(names, BATCH_EVENTS, 'a batch');
}

function eventsFlag<Event extends string>(names: readonly string[], known: Record<Event, true>, of: string): Event[] {
  const isKnown = (name: string): name is Event => Object.hasOwn(known, name);
  return names.map((name) => {
    if (!isKnown(name)) {
      throw new UsageError(`--webhook-events: ${name} is not an event of ${of} (${Object.keys(known).join(', ')})`);
    }
    return name;
  });
}

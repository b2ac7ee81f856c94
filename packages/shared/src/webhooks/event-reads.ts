/** Reading webhook events: one event, its delivery attempts, and the events a job or batch caused. */

import { type DeliveryAttempt, EventStatus, WebhookEventType } from '@renderq/contract';
import { eventAttemptsKey, eventKey } from '../redis/keys.js';
import type { EventContext } from './event-context.js';
import { eventIdFor, JOB_EVENT_TYPES, type WebhookEventRecord } from './events.js';

export async function readEvent(ctx: EventContext, id: string): Promise<WebhookEventRecord | undefined> {
  const hash = await ctx.redis.hgetall(eventKey(ctx.prefix, id));
  return hash.id ? eventFromHash(hash) : undefined;
}

export async function readAttempts(ctx: EventContext, id: string): Promise<DeliveryAttempt[]> {
  const entries = await ctx.redis.lrange(eventAttemptsKey(ctx.prefix, id), 0, -1);
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
export async function eventsForSubject(
  ctx: EventContext,
  kind: 'job' | 'batch',
  subjectId: string,
): Promise<WebhookEventRecord[]> {
  const types = kind === 'job' ? JOB_EVENT_TYPES : (['batch.completed'] as const);
  const events = await Promise.all(types.map((type) => readEvent(ctx, eventIdFor(subjectId, type))));
  return events.filter((event): event is WebhookEventRecord => event !== undefined);
}

function eventFromHash(hash: Record<string, string>): WebhookEventRecord {
  return {
    id: hash.id ?? '',
    type: WebhookEventType.parse(hash.type),
    subject: { kind: subjectKind(hash.subject_kind), id: hash.subject_id ?? '' },
    tenant: hash.tenant ?? '',
    url: hash.url ?? '',
    created_at: hash.created_at ?? '',
    status: EventStatus.parse(hash.status),
    attempts: Number(hash.attempts ?? 0),
    round_attempts: Number(hash.attempts ?? 0) - Number(hash.run_start ?? 0),
    next_attempt_at: hash.status === 'pending' && hash.next_attempt_at ? hash.next_attempt_at : null,
    data: hash.data ?? null,
  };
}

function subjectKind(kind: string | undefined): WebhookEventRecord['subject']['kind'] {
  return kind === 'batch' || kind === 'tenant' ? kind : 'job';
}

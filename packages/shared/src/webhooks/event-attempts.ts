/**
 * Recording what a delivery attempt did: the attempt, the event's status after it and what it
 * means for its receiving host's backoff, in one script (record-attempt-3-or-4.lua); and ending
 * an event that can never be attempted.
 */

import type { AttemptOutcome, DeliveryAttempt, EventStatus } from '@renderq/contract';
import { eventAttemptsKey, eventKey, pendingEventsKey, webhookHostKey } from '../redis/keys.js';
import type { EventContext } from './event-context.js';

/** Attempts kept per event: a day of retries is a handful, redeliveries add a few more. */
const MAX_ATTEMPTS_KEPT = 100;

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

export async function recordAttempt(
  ctx: EventContext,
  id: string,
  record: AttemptRecord,
  host?: HostNote,
): Promise<RecordedAttempt> {
  // The script numbers the attempt, putting the number in front of these fields.
  const entry: Omit<DeliveryAttempt, 'attempt'> = {
    at: new Date(record.startedAt).toISOString(),
    duration_ms: record.durationMs,
    status_code: record.statusCode,
    outcome: record.outcome,
    error: record.error,
  };
  const keys = [eventKey(ctx.prefix, id), eventAttemptsKey(ctx.prefix, id), pendingEventsKey(ctx.prefix)];
  const args = [
    JSON.stringify(entry),
    record.status,
    record.nextAttemptAt === null ? '' : new Date(record.nextAttemptAt).toISOString(),
    String(MAX_ATTEMPTS_KEPT),
    record.nextAttemptAt === null ? '' : String(record.nextAttemptAt),
    id,
  ];
  if (host) {
    keys.push(webhookHostKey(ctx.prefix, host.host));
    args.push(host.result);
    if (host.result === 'failed') {
      args.push(String(host.now), String(host.threshold), String(host.baseMs), String(host.maxMs));
    }
  }
  const [attempt, hostBackedOffUntil] = await ctx.redis.renderqRecordAttempt(keys.length, ...keys, ...args);
  return { attempt, hostBackedOffUntil };
}

/** Ends an event without an attempt (its subject expired before it could be sent). */
export async function abandonEvent(ctx: EventContext, id: string): Promise<void> {
  await ctx.redis
    .multi()
    .hset(eventKey(ctx.prefix, id), { status: 'failed', next_attempt_at: '' })
    .zrem(pendingEventsKey(ctx.prefix), id)
    .exec();
}

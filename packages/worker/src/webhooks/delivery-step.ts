/**
 * The webhooks queue's processor: one attempt at delivering one event, then either
 * done (delivered, gone, or out of retries) or back to delayed until the schedule's
 * next attempt. A host that keeps failing is waited out without spending attempts.
 * Nothing here touches a job's own progress: a slow or dead receiver only ever
 * delays other webhooks.
 */

import { type Span, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import type { AttemptOutcome, EventStatus } from '@renderq/contract';
import { signWebhook } from '@renderq/contract';
import {
  type Logger,
  type Metrics,
  type Traces,
  traceLogFields,
  type WebhookEventRecord,
  type WebhookEventStore,
  type WebhookJobData,
} from '@renderq/shared';
import { DelayedError, type Job } from 'bullmq';
import type { HostBackoff } from './host-backoff.js';
import { type PayloadSources, webhookPayload } from './webhook-payload.js';
import type { SendResult, WebhookSender } from './webhook-sender.js';

export interface DeliveryDeps {
  readonly events: WebhookEventStore;
  readonly sender: WebhookSender;
  readonly hosts: HostBackoff;
  readonly payloads: PayloadSources;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** Each attempt's span, under the trace of the job or batch the event is about. */
  readonly traces: Traces;
  /** Each signs every delivery (more than one while a secret is being rotated). */
  readonly secrets: readonly string[];
  /** The wait before each retry; a round is one first attempt and these retries. */
  readonly retryDelaysMs: readonly number[];
}

export function deliveryStep(deps: DeliveryDeps) {
  return async (job: Job<WebhookJobData>, token?: string): Promise<void> => {
    const event = await deps.events.get(job.data.eventId);
    if (event?.status !== 'pending') return;
    const host = new URL(event.url).host;
    // Both reads in one round trip; the body is wasted only while the host is backed off (rare, and
    // its deliveries then come back no more than once per 30 s).
    const [backedOffUntil, payload] = await Promise.all([
      deps.hosts.backedOffUntil(host),
      webhookPayload(deps.payloads, event),
    ]);
    if (backedOffUntil > 0) {
      deps.metrics.webhookHostBackoffs.inc();
      // Spread the host's waiting deliveries over a while, so they do not all return at once.
      await job.moveToDelayed(backedOffUntil + Math.round(Math.random() * 30_000), token);
      throw new DelayedError();
    }
    if (payload === undefined) {
      deps.logger.warn(logFields(event, host), 'webhook not sent: its job or batch is no longer kept');
      await deps.events.abandon(event.id);
      deps.metrics.webhookEventsFinished.inc({ status: 'failed' });
      return;
    }
    // A first attempt's span starts when the event was recorded: its wait to be sent is part of the job's time.
    const spanFrom = event.attempts === 0 ? Date.parse(event.created_at) : Date.now();
    const attributes = {
      'renderq.webhook.event_id': event.id,
      'renderq.webhook.event': event.type,
      'renderq.webhook.attempt': event.attempts + 1,
      'server.address': host,
    };
    const next = await deps.traces.run(
      payload.traceParent,
      'renderq.webhook',
      attributes,
      (span) => attempt(deps, event, host, payload.body, span),
      { startMs: Number.isFinite(spanFrom) ? spanFrom : Date.now(), kind: SpanKind.CLIENT },
    );
    if (next.status === 'pending') {
      await job.moveToDelayed(next.retryAt, token);
      throw new DelayedError();
    }
  };
}

/** One delivery attempt, recorded; what becomes of the event after it. */
async function attempt(
  deps: DeliveryDeps,
  event: WebhookEventRecord,
  host: string,
  body: string,
  span: Span,
): Promise<{ status: EventStatus; retryAt: number }> {
  // The trace context goes beside the signature, never inside what is signed.
  const headers = {
    ...signWebhook(deps.secrets, event.id, body),
    ...deps.traces.headerOf(span),
    'content-type': 'application/json',
    'user-agent': 'renderq-webhooks',
  };
  const startedAt = Date.now();
  const result = await deps.sender.send(event.url, headers, body);
  const outcome = outcomeOf(result);
  span.setAttribute('renderq.webhook.outcome', outcome);
  if (result.kind === 'answered') span.setAttribute('http.response.status_code', result.statusCode);
  if (outcome !== 'delivered') span.setStatus({ code: SpanStatusCode.ERROR, message: outcome });
  const next = nextStep(outcome, event.round_attempts + 1, deps.retryDelaysMs);
  const error = errorOf(result, outcome);
  // The attempt, the event's status and the host's backoff, written in one step.
  const recorded = await deps.events.recordAttempt(
    event.id,
    {
      startedAt,
      durationMs: result.durationMs,
      statusCode: result.kind === 'answered' ? result.statusCode : null,
      outcome,
      error,
      status: next.status,
      nextAttemptAt: next.status === 'pending' ? startedAt + next.delayMs : null,
    },
    deps.hosts.note(host, outcome),
  );
  deps.metrics.webhookDeliveries.inc({ outcome });
  deps.metrics.webhookDeliveryDuration.observe(result.durationMs / 1000);
  if (next.status !== 'pending') deps.metrics.webhookEventsFinished.inc({ status: next.status });
  if (recorded.hostBackedOffUntil > 0) {
    deps.logger.warn({ host, until: new Date(recorded.hostBackedOffUntil).toISOString() }, 'webhook host backed off');
  }
  logAttempt(deps.logger, event, host, recorded.attempt, result, next.status, error, span);
  return { status: next.status, retryAt: next.status === 'pending' ? startedAt + next.delayMs : 0 };
}

function outcomeOf(result: SendResult): AttemptOutcome {
  if (result.kind === 'refused') return 'refused';
  if (result.kind === 'no_answer') return 'failed';
  if (result.statusCode >= 200 && result.statusCode < 300) return 'delivered';
  if (result.statusCode === 410) return 'gone';
  return 'failed';
}

type NextStep = { readonly status: Exclude<EventStatus, 'pending'> } | { readonly status: 'pending'; delayMs: number };

/** After attempt `roundAttempt` of a round (1 = the first), what becomes of the event. */
function nextStep(outcome: AttemptOutcome, roundAttempt: number, retryDelaysMs: readonly number[]): NextStep {
  if (outcome === 'delivered') return { status: 'delivered' };
  if (outcome === 'gone') return { status: 'gone' };
  const delay = retryDelaysMs[roundAttempt - 1];
  if (delay === undefined) return { status: 'failed' };
  // ±10 %: events that failed together do not all come back in the same instant.
  return { status: 'pending', delayMs: Math.max(0, Math.round(delay * (0.9 + Math.random() * 0.2))) };
}

function errorOf(result: SendResult, outcome: AttemptOutcome): string | null {
  if (result.kind !== 'answered') return result.error;
  if (outcome === 'delivered') return null;
  if (result.statusCode >= 300 && result.statusCode < 400)
    return `HTTP ${result.statusCode}: redirects are not followed`;
  return result.excerpt ? `HTTP ${result.statusCode}: ${result.excerpt}` : `HTTP ${result.statusCode}`;
}

/** Every line about an event names it the same way (built per line: most deliveries log nothing). */
function logFields(event: WebhookEventRecord, host: string) {
  return { event_id: event.id, type: event.type, subject_id: event.subject.id, host };
}

function logAttempt(
  logger: Logger,
  event: WebhookEventRecord,
  host: string,
  attempt: number,
  result: SendResult,
  status: EventStatus,
  error: string | null,
  span: Span,
): void {
  const level = status === 'delivered' || status === 'pending' ? 'info' : 'warn';
  if (!logger.isLevelEnabled(level)) return;
  const fields = {
    ...logFields(event, host),
    attempt,
    status,
    status_code: result.kind === 'answered' ? result.statusCode : null,
    duration_ms: result.durationMs,
    ...traceLogFields(span),
  };
  if (status === 'delivered') logger.info(fields, 'webhook delivered');
  else if (status === 'pending') logger.info({ ...fields, error }, 'webhook attempt failed');
  else logger.warn({ ...fields, url: event.url }, `webhook ${status}`);
}

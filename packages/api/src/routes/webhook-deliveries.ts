/**
 * Webhook deliveries, visible and replayable: a job's (or batch's) events with every
 * attempt made to deliver them, and redelivery of an event under its own webhook-id.
 */
import { Problem as ProblemSchema, WebhookDeliveries, WebhookEvent } from '@renderq/contract';
import { redeliveryCooldownKey, type WebhookEventRecord } from '@renderq/shared';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ApiContext } from '../api-context.js';
import { Problem, RetryLaterProblem } from '../http/problems.js';
import { BatchIdParams, JobIdParams } from '../http/schemas.js';
import { ownBatch, ownJob } from '../services/ownership.js';

type Subject = 'job' | 'batch';

const ROUTES: Readonly<Record<Subject, { readonly base: string; readonly tag: string }>> = {
  job: { base: '/v1/jobs', tag: 'jobs' },
  batch: { base: '/v1/batches', tag: 'batches' },
};

/** How long after a redelivery the same job's or batch's events may be redelivered again. */
const REDELIVERY_COOLDOWN_MS = 60_000;

const RedeliverAnswer = z.object({ events: z.array(WebhookEvent) });

export async function webhookDeliveryRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const routes = app.withTypeProvider<ZodTypeProvider>();

  for (const subject of ['job', 'batch'] as const) {
    const { base, tag } = ROUTES[subject];
    const tags = [tag];
    const params = subject === 'job' ? JobIdParams : BatchIdParams;
    const config = { access: 'tenant' } as const;

    routes.get(
      `${base}/:id/webhook-deliveries`,
      {
        config,
        schema: {
          summary: `The webhook events of a ${subject}, with every delivery attempt`,
          description:
            subject === 'batch'
              ? "The batch's own events (batch.completed); each job's events are listed under the job."
              : 'A job has at most one event: the one its final status causes.',
          tags,
          params,
          response: { 200: WebhookDeliveries, 404: ProblemSchema },
        },
      },
      async (request) => {
        await ownSubject(ctx, subject, request.tenant, request.params.id);
        const events = (await ctx.webhooks?.events.forSubject(subject, request.params.id)) ?? [];
        return { events: await eventViews(ctx, events) };
      },
    );

    const redeliver = async (request: { tenant: string; params: { id: string } }) => {
      await ownSubject(ctx, subject, request.tenant, request.params.id);
      const webhooks = ctx.webhooks;
      if (!webhooks) throw new Problem('conflict', 'webhooks are off on this server (WEBHOOK_SECRET is not set)');
      const events = await webhooks.events.forSubject(subject, request.params.id);
      if (events.length === 0) {
        throw new Problem('conflict', `${subject} ${request.params.id} has no webhook event to send (yet)`);
      }
      await holdOffRepeats(ctx, subject, request.params.id);
      const redelivered = await Promise.all(events.map((event) => webhooks.events.redeliver(event.id)));
      return {
        events: await eventViews(
          ctx,
          redelivered.filter((event) => event !== undefined),
        ),
      };
    };
    const redeliverSchema = {
      summary: `Send a ${subject}'s webhook events again`,
      description:
        'A delivered, gone or failed event starts a new round of the retry schedule under the same ' +
        'webhook-id; a pending one is attempted now. 409 when there is no event yet; 429 within a minute of the last redelivery.',
      tags,
      params,
      response: { 202: RedeliverAnswer, 404: ProblemSchema, 409: ProblemSchema, 429: ProblemSchema },
    };
    routes.post(
      `${base}/:id/webhook-deliveries/redeliver`,
      { config, schema: redeliverSchema },
      async (request, reply) => reply.code(202).send(await redeliver(request)),
    );
    routes.post(
      `${base}/:id/redeliver`,
      { config, schema: { ...redeliverSchema, summary: `${redeliverSchema.summary} (short form)` } },
      async (request, reply) => reply.code(202).send(await redeliver(request)),
    );
  }
}

/**
 * One redelivery per subject per cooldown: a tenant calling redeliver in a loop would otherwise
 * turn the workers into a source of POSTs at whatever rate it likes.
 */
async function holdOffRepeats(ctx: ApiContext, subject: Subject, id: string): Promise<void> {
  const key = redeliveryCooldownKey(ctx.config.redis.prefix, `${subject}:${id}`);
  if ((await ctx.redis.set(key, '1', 'PX', REDELIVERY_COOLDOWN_MS, 'NX')) === 'OK') return;
  const leftMs = await ctx.redis.pttl(key);
  throw new RetryLaterProblem(
    'too_many_requests',
    `${subject} ${id} was redelivered moments ago; one redelivery per ${REDELIVERY_COOLDOWN_MS / 1000} s`,
    Math.max(1, Math.ceil(leftMs / 1000)),
  );
}

async function ownSubject(ctx: ApiContext, subject: Subject, tenant: string, id: string): Promise<void> {
  await (subject === 'job' ? ownJob(ctx, tenant, id) : ownBatch(ctx, tenant, id));
}

/** Events as the API shows them, each with its attempts. */
async function eventViews(ctx: ApiContext, events: readonly WebhookEventRecord[]): Promise<WebhookEvent[]> {
  const webhooks = ctx.webhooks;
  if (!webhooks) return [];
  return Promise.all(
    events.map(async (event) => ({
      id: event.id,
      type: event.type,
      url: event.url,
      status: event.status,
      created_at: event.created_at,
      next_attempt_at: event.next_attempt_at,
      attempts: await webhooks.events.attempts(event.id),
    })),
  );
}

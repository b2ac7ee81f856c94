/** Models, health, readiness, metrics, and the operator's status, pause and resume. */
import { AdminStatus, Model, PauseState, Problem as ProblemSchema } from '@renderq/contract';
import {
  describeModel,
  listModels,
  pingWithin,
  priceOf,
  QUEUE_NAMES,
  readCredits,
  readSegmindOutage,
} from '@renderq/shared';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ApiContext } from '../api-context.js';

/** How long readiness waits for Redis: an orchestrator's probe must get an answer, not a hang. */
const READY_DEADLINE_MS = 1_500;

export async function operationRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  const prices = ctx.config.models.pricesUsd;
  const models = listModels().map((model) => describeModel(model, priceOf(model.name, prices)));

  routes.get(
    '/v1/models',
    {
      config: { access: 'tenant' },
      schema: {
        summary: 'The model catalogue, with each model’s price per image and the JSON Schema of its input',
        tags: ['models'],
        response: { 200: z.object({ models: z.array(Model), allow_unknown_models: z.boolean() }) },
      },
    },
    async () => ({ models, allow_unknown_models: ctx.config.models.allowUnknown }),
  );

  routes.get(
    '/healthz',
    {
      config: { access: 'public' },
      schema: {
        summary: 'The process is up (it answers without asking Redis)',
        tags: ['operations'],
        security: [],
        response: { 200: z.object({ status: z.literal('ok') }) },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  routes.get(
    '/readyz',
    {
      config: { access: 'public' },
      schema: {
        summary: 'Ready while Redis answers and storage takes writes, paused or not',
        description:
          'A pause (an operator’s, or out of credits) leaves the API ready: it still answers, a job sent is ' +
          'refused with the pause’s problem+json, and an operator reaches /v1/admin/resume through it. The body ' +
          'names the pause; /v1/admin/status, the metrics and the alert report it too.',
        tags: ['operations'],
        security: [],
        response: {
          200: z.object({
            status: z.literal('ready'),
            pause: z
              .object({ reason: z.string().describe('out_of_credits, operator, …') })
              .nullable()
              .describe('While taking jobs is paused, why; null otherwise.'),
          }),
          503: z
            .object({
              status: z.literal('unavailable'),
              reason: z.string().describe('Why: Redis not answering, or storage not usable.'),
            })
            .describe(
              'Not ready: send no traffic here for now. Anyone may ask, so the answer names the cause and no ' +
                'more; what to fix (an endpoint, a bucket, a setting) is in the log and GET /v1/admin/status.',
            ),
        },
      },
    },
    async (_request, reply) => {
      // The cause only: Redis's error and storage's problem name hosts, ports and buckets.
      const redis = await pingWithin(ctx.redis, READY_DEADLINE_MS);
      if (!redis.ok) return reply.code(503).send({ status: 'unavailable', reason: 'Redis does not answer' });
      if (!ctx.storageStatus().ok) return reply.code(503).send({ status: 'unavailable', reason: 'storage' });
      const pause = await ctx.pause.state();
      // The reason only: the message (Segmind's words, an operator's note) is for /v1/admin/status.
      return { status: 'ready' as const, pause: pause.paused ? { reason: pause.reason ?? 'paused' } : null };
    },
  );

  routes.get(
    '/metrics',
    {
      config: { access: 'public' },
      schema: {
        summary: 'Prometheus metrics (text exposition format)',
        description:
          'Shared facts (queue depths, the credit balance last observed, the pause) as every process sees them.',
        tags: ['operations'],
        security: [],
        response: { 200: { content: { 'text/plain': { schema: z.string() } } } },
      },
    },
    async (_request, reply) => {
      reply.header('content-type', ctx.metrics.registry.contentType);
      // Text, as the content type says (the 200 documents it as text/plain).
      return ctx.metrics.registry.metrics();
    },
  );

  routes.get(
    '/v1/admin/status',
    {
      config: { access: 'operator' },
      schema: {
        summary:
          'Pause state and reason, a Segmind outage being waited out, whether storage takes writes, queue depths, and the last known Segmind credit balance',
        tags: ['operations'],
        response: {
          200: AdminStatus,
          401: ProblemSchema,
          403: ProblemSchema,
        },
      },
    },
    async () => {
      const [pause, outage, render, waitingForShare, poll, webhooks, credits] = await Promise.all([
        ctx.pause.state(),
        readSegmindOutage(ctx.redis, ctx.config.redis.prefix),
        ctx.renderQueue.getJobCounts(),
        ctx.fairShareNow(),
        ctx.pollQueue.getJobCounts(),
        // Without WEBHOOK_SECRET no webhook is sent, and there is no queue to show.
        ctx.webhooks?.queue.getJobCounts(),
        readCredits(ctx.redis, ctx.config.redis.prefix),
      ]);
      const storage = ctx.storageStatus();
      return {
        pause,
        segmind_outage: outage,
        storage: storage.ok ? { usable: true, problem: null } : { usable: false, problem: storage.problem },
        queues: {
          // Jobs waiting for their tenant's fair share are the render queue's too (docs/tenants.md).
          [QUEUE_NAMES.render]: {
            ...render,
            fair_share: [...waitingForShare.waiting.values()].reduce((sum, n) => sum + n, 0),
          },
          [QUEUE_NAMES.poll]: poll,
          ...(webhooks ? { [QUEUE_NAMES.webhooks]: webhooks } : {}),
        },
        credits: credits ?? null,
      };
    },
  );

  routes.post(
    '/v1/admin/pause',
    {
      config: { access: 'operator' },
      schema: {
        summary: 'Stop taking jobs for everyone (jobs keep their place; those at Segmind are still followed)',
        tags: ['operations'],
        body: z.strictObject({ message: z.string().max(500).optional() }).optional(),
        response: { 200: PauseState, 401: ProblemSchema, 403: ProblemSchema },
      },
    },
    async (request) => {
      const message = request.body?.message ?? 'paused by an operator';
      await ctx.pause.pause('operator', message);
      ctx.logger.warn({ message }, 'taking jobs paused by an operator');
      return ctx.pause.state();
    },
  );

  routes.post(
    '/v1/admin/resume',
    {
      config: { access: 'operator' },
      schema: {
        summary: 'Resume taking jobs after a pause (for example once the Segmind key is fixed)',
        tags: ['operations'],
        response: { 200: PauseState, 401: ProblemSchema, 403: ProblemSchema },
      },
    },
    async () => {
      const before = await ctx.pause.state();
      await ctx.pause.resume();
      ctx.logger.info({ was: before }, 'taking jobs resumed by an operator');
      return ctx.pause.state();
    },
  );
}

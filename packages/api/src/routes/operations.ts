/** Models, health, readiness, metrics and the operator's status and resume. */
import { describeModel, listModels, QUEUE_NAMES } from '@renderq/shared';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ApiContext } from '../api-context.js';
import { Model, ProblemSchema } from '../http/schemas.js';

const PauseStateSchema = z.object({
  paused: z.boolean(),
  reason: z.enum(['unauthorized', 'out_of_credits', 'rate_limited']).optional(),
  message: z.string().optional(),
  since: z.string().optional(),
});

export async function operationRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  const models = listModels().map(describeModel);

  routes.get(
    '/v1/models',
    {
      schema: {
        summary: 'The model catalogue, with the JSON Schema of each model’s input',
        tags: ['models'],
        response: { 200: z.object({ models: z.array(Model), allow_unknown_models: z.boolean() }) },
      },
    },
    async () => ({ models, allow_unknown_models: ctx.config.models.allowUnknown }),
  );

  routes.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));

  routes.get(
    '/readyz',
    { schema: { summary: 'Ready while Redis answers and taking jobs is not paused', tags: ['operations'] } },
    async (_request, reply) => {
      try {
        await ctx.redis.ping();
      } catch (error) {
        return reply
          .code(503)
          .send({ status: 'unavailable', reason: `Redis does not answer: ${(error as Error).message}` });
      }
      const pause = await ctx.pause.state();
      if (pause.paused) {
        return reply
          .code(503)
          .send({ status: 'paused', reason: pause.reason ?? 'paused', message: pause.message ?? '' });
      }
      return { status: 'ready' };
    },
  );

  routes.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    reply.header('content-type', ctx.metrics.registry.contentType);
    return ctx.metrics.registry.metrics();
  });

  routes.get(
    '/v1/admin/status',
    {
      schema: {
        summary: 'Pause state and reason, queue depths, and the last known Segmind credit balance',
        tags: ['operations'],
        response: {
          200: z.object({
            pause: PauseStateSchema,
            queues: z.record(z.string(), z.record(z.string(), z.number())),
            credits: z.object({ balance: z.number(), observed_at: z.string() }).nullable(),
          }),
          401: ProblemSchema,
        },
      },
    },
    async () => {
      const [pause, render, poll, credits] = await Promise.all([
        ctx.pause.state(),
        ctx.renderQueue.getJobCounts(),
        ctx.pollQueue.getJobCounts(),
        ctx.redis.get(`${ctx.config.redis.prefix}:credits`),
      ]);
      return {
        pause,
        queues: { [QUEUE_NAMES.render]: render, [QUEUE_NAMES.poll]: poll },
        credits: credits ? (JSON.parse(credits) as { balance: number; observed_at: string }) : null,
      };
    },
  );

  routes.post(
    '/v1/admin/resume',
    {
      schema: {
        summary: 'Resume taking jobs after a pause (for example once the Segmind key is fixed)',
        tags: ['operations'],
        response: { 200: PauseStateSchema, 401: ProblemSchema },
      },
    },
    async (request) => {
      const before = await ctx.pause.state();
      await ctx.pause.resume();
      ctx.logger.info({ tenant: request.tenant, was: before }, 'taking jobs resumed by an operator');
      return ctx.pause.state();
    },
  );
}

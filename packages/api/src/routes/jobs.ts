/** Jobs: create (with Idempotency-Key), read, cancel, and download outputs. */
import { isRedisUnavailable, newId, ObjectNotFoundError, validateModelInput } from '@renderq/shared';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ApiContext } from '../api-context.js';
import { Problem, RetryLaterProblem } from '../http/problems.js';
import { Job, JobIdParams, JobRequest, OutputParams, OutputQuery, ProblemSchema } from '../http/schemas.js';
import { cancelJob } from '../services/cancel-job.js';
import { IdempotencyStore } from '../services/idempotency.js';
import { ownJob } from '../services/ownership.js';
import { urlsOfJob } from '../services/url-guard.js';
import { jobView } from '../services/views.js';

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

export async function jobRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const routes = app.withTypeProvider<ZodTypeProvider>();

  routes.post(
    '/v1/jobs',
    {
      config: { access: 'tenant' },
      schema: {
        summary: 'Create a job',
        tags: ['jobs'],
        body: JobRequest,
        // Loose: fastify replaces the headers with what the schema returns.
        headers: z.looseObject({
          'idempotency-key': z
            .string()
            .optional()
            .describe('Retries with the same key and body create one job (24 h).'),
        }),
        response: { 202: Job, 400: ProblemSchema, 409: ProblemSchema, 422: ProblemSchema, 429: ProblemSchema },
      },
    },
    async (request, reply) => {
      const key = request.headers['idempotency-key'];
      const create = async (jobId?: string) => {
        const body = request.body;
        const validated = validateModelInput(body.model, body.input, { allowUnknown: ctx.config.models.allowUnknown });
        if (!validated.ok) throw new Problem('validation_failed', 'the job is not valid', validated.issues);
        const refused = await ctx.urlGuard.check(urlsOfJob(validated.input, body.webhook_url));
        if (refused.length > 0)
          throw new Problem('validation_failed', 'the job names a URL renderq will not call', refused);
        await ctx.enqueueRate.charge(request.tenant, 1);
        const record = await ctx.store.create({
          ...(jobId ? { id: jobId } : {}),
          tenant: request.tenant,
          model: validated.model,
          input: validated.input,
          metadata: body.metadata ?? null,
          webhookUrl: body.webhook_url ?? null,
          webhookEvents: body.webhook_events ?? null,
          ...(body.priority ? { priority: body.priority } : {}),
        });
        ctx.metrics.jobsEnqueued.inc({ model: record.model });
        return { status: 202 as const, body: await jobView(record, ctx.links) };
      };
      if (key === undefined) {
        const answer = await create();
        return reply.code(202).send(answer.body);
      }
      if (typeof key !== 'string' || !IDEMPOTENCY_KEY.test(key)) {
        throw new Problem('validation_failed', 'Idempotency-Key must be 1-255 visible ASCII characters', [
          { path: 'headers.idempotency-key', message: 'must be 1-255 visible ASCII characters' },
        ]);
      }
      return idempotent(ctx, request, reply, key, create);
    },
  );

  routes.get(
    '/v1/jobs/:id',
    {
      config: { access: 'tenant' },
      schema: {
        summary: 'Read a job',
        tags: ['jobs'],
        params: JobIdParams,
        response: { 200: Job, 404: ProblemSchema },
      },
    },
    async (request) => jobView(await ownJob(ctx, request.tenant, request.params.id), ctx.links),
  );

  routes.post(
    '/v1/jobs/:id/cancel',
    {
      config: { access: 'tenant' },
      schema: {
        summary: 'Cancel a job not yet finished',
        tags: ['jobs'],
        params: JobIdParams,
        response: { 200: Job, 404: ProblemSchema, 409: ProblemSchema },
      },
    },
    async (request) => {
      const record = await ownJob(ctx, request.tenant, request.params.id);
      const moved = await cancelJob(ctx, record.id, record.model);
      if (!moved.ok) {
        const current = moved.reason === 'wrong_stage' ? moved.current : 'gone';
        throw new Problem('conflict', `job ${record.id} has already finished (${current})`);
      }
      return jobView(await ownJob(ctx, request.tenant, record.id), ctx.links);
    },
  );

  routes.get(
    '/v1/jobs/:id/outputs/:index',
    {
      config: { access: 'tenant_or_link' },
      schema: {
        summary: "Download one of a job's outputs",
        description: 'With an API key, or with the signed link the job gives as the output url.',
        tags: ['jobs'],
        params: OutputParams,
        querystring: OutputQuery,
      },
    },
    async (request, reply) => {
      const { id, index } = request.params;
      const record = request.tenant
        ? await ownJob(ctx, request.tenant, id)
        : ctx.links.verify(id, index, request.query.expires, request.query.signature)
          ? await ctx.store.get(id)
          : undefined;
      if (!record) {
        throw request.tenant
          ? new Problem('not_found', `no job ${id}`)
          : new Problem('unauthorized', 'the link is not valid or has expired');
      }
      const output = record.outputs.find((o) => o.index === index);
      if (!output) throw new Problem('not_found', `job ${id} has no output ${index}`);
      // With OUTPUT_LINKS=presigned the bytes come from S3 itself.
      if (ctx.config.api.outputLinks === 'presigned' && ctx.storage.presignedUrl) {
        return reply.redirect(
          await ctx.storage.presignedUrl(output.storage_key, ctx.config.api.outputLinkTtlSeconds),
          302,
        );
      }
      const etag = `"${output.sha256}"`;
      // The bytes never change, but a link's right to them ends: a cache may keep them only as long as the link works.
      const maxAge = request.tenant
        ? 3_600
        : Math.max(0, Number(request.query.expires) - Math.floor(Date.now() / 1000));
      reply.header('etag', etag).header('cache-control', `private, max-age=${maxAge}, immutable`);
      if (request.headers['if-none-match'] === etag) return reply.code(304).send();
      try {
        const stored = await ctx.storage.get(output.storage_key);
        return reply
          .type(output.content_type)
          .header('content-length', String(output.size))
          .header('x-storage-key', output.storage_key)
          .send(stored.body);
      } catch (error) {
        if (error instanceof ObjectNotFoundError)
          throw new Problem('not_found', `output ${index} of job ${id} is no longer stored`);
        throw error;
      }
    },
  );
}

async function idempotent(
  ctx: ApiContext,
  request: FastifyRequest,
  reply: FastifyReply,
  key: string,
  create: (jobId: string) => Promise<{ status: number; body: unknown }>,
) {
  const hash = IdempotencyStore.bodyHash(request.body);
  const jobId = newId('job');
  const claim = await ctx.idempotency.claim(request.tenant, key, hash, jobId);
  switch (claim.kind) {
    case 'replay':
      if (claim.status >= 400) reply.type('application/problem+json');
      return reply.code(claim.status).header('idempotent-replayed', 'true').send(claim.body);
    case 'mismatch':
      throw new Problem('idempotency_key_reused', `Idempotency-Key ${key} was used with a different body`);
    case 'in_progress': {
      // The first request may have created its job and then lost Redis before answering: the job is the answer.
      const made = claim.jobId ? await ctx.store.get(claim.jobId) : undefined;
      if (made && made.tenant === request.tenant) {
        const body = await jobView(made, ctx.links);
        await ctx.idempotency.complete(request.tenant, key, hash, 202, body);
        return reply.code(202).header('idempotent-replayed', 'true').send(body);
      }
      if (!claim.expired || !(await ctx.idempotency.takeOver(request.tenant, key, hash, claim.raw, jobId))) {
        reply.header('retry-after', String(Math.max(1, Math.ceil(claim.leaseLeftMs / 1000))));
        throw new Problem('idempotency_in_progress', `a request with Idempotency-Key ${key} is still being handled`);
      }
      break;
    }
    case 'new':
      break;
  }
  try {
    const answer = await create(jobId);
    await ctx.idempotency.complete(request.tenant, key, hash, answer.status, answer.body);
    return reply.code(answer.status).send(answer.body);
  } catch (error) {
    // The caller's mistakes are the answer for good; what passes with time (429, 503) is not.
    if (error instanceof Problem && error.status < 500 && !(error instanceof RetryLaterProblem)) {
      await ctx.idempotency.complete(request.tenant, key, hash, error.status, error.body());
    } else if (!isRedisUnavailable(error)) {
      await ctx.idempotency.abandon(request.tenant, key);
    }
    // Redis not answering: the job may yet be created; the claim names it, so a retry finds it.
    throw error;
  }
}

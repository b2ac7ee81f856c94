/**
 * Jobs: create (with Idempotency-Key), list, read, cancel, and download outputs and
 * the input images stored when they were created.
 */
import { Job, JobPage, Problem as ProblemSchema } from '@renderq/contract';
import { isRedisUnavailable, listModels, newId, publicJob, validateModelInput } from '@renderq/shared';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ApiContext } from '../api-context.js';
import { Problem, RetryLaterProblem } from '../http/problems.js';
import { InputParams, JobIdParams, JobListQuery, JobRequest, OutputParams, OutputQuery } from '../http/schemas.js';
import { cancelJob } from '../services/cancel-job.js';
import { linkedJob, sendStored } from '../services/downloads.js';
import { IdempotencyStore } from '../services/idempotency.js';
import { filtersOf, readCursor, writeCursor } from '../services/job-cursor.js';
import { ownJob } from '../services/ownership.js';
import { storeJobInputs, withStoredInputs } from '../services/stored-inputs.js';
import { urlsOfJob } from '../services/url-guard.js';

/** One request per model, as `POST /v1/jobs` takes it (the OpenAPI document's examples). */
const JOB_EXAMPLES = Object.fromEntries(
  listModels().map((model) => [
    model.name,
    { summary: `${model.title} (${model.kind})`, value: { model: model.name, input: model.example } },
  ]),
);

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

export async function jobRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const routes = app.withTypeProvider<ZodTypeProvider>();

  routes.post(
    '/v1/jobs',
    {
      config: { access: 'tenant' },
      schema: {
        summary: 'Create a job',
        description:
          'An input image may be an http(s) URL (kept as given) or sent inline as base64 or a data: URI: ' +
          'it is then stored with the job, which shows it as {url, sha256, content_type, size}. ' +
          'Bodies of up to 32 MiB.',
        tags: ['jobs'],
        body: JobRequest,
        bodyExamples: JOB_EXAMPLES,
        // Loose: fastify replaces the headers with what the schema returns.
        headers: z.looseObject({
          'idempotency-key': z
            .string()
            .optional()
            .describe('Retries with the same key and body create one job (24 h).'),
        }),
        response: {
          202: Job,
          400: ProblemSchema,
          409: ProblemSchema,
          413: ProblemSchema,
          422: ProblemSchema,
          429: ProblemSchema,
          503: ProblemSchema,
        },
      },
    },
    async (request, reply) => {
      const key = request.headers['idempotency-key'];
      const create = async (claimedId?: string) => {
        const body = request.body;
        const validated = validateModelInput(body.model, body.input, { allowUnknown: ctx.config.models.allowUnknown });
        if (!validated.ok) throw new Problem('validation_failed', 'the job is not valid', validated.issues);
        const refused = await ctx.urlGuard.check(urlsOfJob(validated.input, body.webhook_url));
        if (refused.length > 0)
          throw new Problem('validation_failed', 'the job names a URL renderq will not call', refused);
        await ctx.enqueueRate.charge(request.tenant, 1);
        // Accepted: inline images are stored under the job's id (an Idempotency-Key's claim names it).
        const id = claimedId ?? newId('job');
        const { input, inputs } = await storeJobInputs(ctx, id, validated.model, validated.input);
        const record = await withStoredInputs(ctx, inputs, () =>
          ctx.store.create({
            id,
            tenant: request.tenant,
            model: validated.model,
            input,
            inputs,
            metadata: body.metadata ?? null,
            webhookUrl: body.webhook_url ?? null,
            webhookEvents: body.webhook_events ?? null,
            ...(body.priority ? { priority: body.priority } : {}),
          }),
        );
        ctx.metrics.jobsEnqueued.inc({ model: record.model });
        return { status: 202 as const, body: await publicJob(record, ctx.links) };
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
    '/v1/jobs',
    {
      config: { access: 'tenant' },
      schema: {
        summary: "List the tenant's jobs, newest first",
        description:
          'Filtered by status, model, batch and creation time; `limit` jobs a page (default 100, at most 1,000), ' +
          'the next page from `next_cursor`. One request scans a bounded part of the list: a page may hold ' +
          'fewer jobs than `limit`, even none, with a `next_cursor` to go on from.',
        tags: ['jobs'],
        querystring: JobListQuery,
        response: { 200: JobPage, 400: ProblemSchema },
      },
    },
    async (request) => {
      const asked = filtersOf(request.query);
      const position = request.query.cursor !== undefined ? readCursor(request.query.cursor, asked) : undefined;
      const filters = position?.filters ?? asked;
      const page = await ctx.store.listJobs({
        tenant: request.tenant,
        filters,
        limit: request.query.limit,
        ...(position ? { after: position.after } : {}),
      });
      return {
        jobs: await Promise.all(page.records.map((record) => publicJob(record, ctx.links))),
        next_cursor: page.next === null ? null : writeCursor(page.next, filters),
      };
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
    async (request) => publicJob(await ownJob(ctx, request.tenant, request.params.id), ctx.links),
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
      const moved = await cancelJob(ctx, record);
      if (!moved.ok) {
        const current = moved.reason === 'wrong_stage' ? moved.current : 'gone';
        throw new Problem('conflict', `job ${record.id} has already finished (${current})`);
      }
      return publicJob(await ownJob(ctx, request.tenant, record.id), ctx.links);
    },
  );

  routes.get(
    '/v1/jobs/:id/outputs/:index',
    {
      config: { access: 'tenant_or_link' },
      schema: {
        summary: "Download one of a job's outputs",
        description:
          'With an API key, or with the signed link the job gives as the output url. 304 for a matching ' +
          'If-None-Match; with OUTPUT_LINKS=presigned, a 302 to the presigned S3 URL.',
        tags: ['jobs'],
        params: OutputParams,
        querystring: OutputQuery,
        response: {
          200: {
            description: 'The output, with its content type, length and an ETag from its sha256.',
            content: { 'application/octet-stream': { schema: z.string().describe('The bytes.') } },
          },
          401: ProblemSchema,
          404: ProblemSchema,
        },
      },
    },
    async (request, reply) => {
      const { id, index } = request.params;
      const { expires, signature } = request.query;
      const record = await linkedJob(ctx, request, id, () => ctx.links.verify(id, index, expires, signature));
      const output = record.outputs.find((o) => o.index === index);
      if (!output) throw new Problem('not_found', `job ${id} has no output ${index}`);
      return sendStored(ctx, request, reply, output, `output ${index} of job ${id} is no longer stored`);
    },
  );

  routes.get(
    '/v1/jobs/:id/inputs/:field',
    {
      config: { access: 'tenant_or_link' },
      schema: {
        summary: 'Download an input image the job was created with (sent inline, stored with the job)',
        description:
          'With an API key, or with the signed link the job gives in its input as the image’s url. 304 for a ' +
          'matching If-None-Match; with OUTPUT_LINKS=presigned, a 302 to the presigned S3 URL.',
        tags: ['jobs'],
        params: InputParams,
        querystring: OutputQuery,
        response: {
          200: {
            description: 'The image, with its content type, length and an ETag from its sha256.',
            content: { 'application/octet-stream': { schema: z.string().describe('The bytes.') } },
          },
          401: ProblemSchema,
          404: ProblemSchema,
        },
      },
    },
    async (request, reply) => {
      const { id, field } = request.params;
      const { expires, signature } = request.query;
      const record = await linkedJob(ctx, request, id, () => ctx.links.verifyInput(id, field, expires, signature));
      const input = record.inputs.find((stored) => stored.field === field);
      if (!input) throw new Problem('not_found', `job ${id} has no stored input image "${field}"`);
      return sendStored(ctx, request, reply, input, `input "${field}" of job ${id} is no longer stored`);
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
        const body = await publicJob(made, ctx.links);
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

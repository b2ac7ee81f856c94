/**
 * Jobs: create (with Idempotency-Key), list, read, cancel, and download outputs and
 * the input images stored when they were created.
 */
import { Job, JobPage, Problem as ProblemSchema } from '@renderq/contract';
import { listModels, newId, traceParentOf, validateModelInput } from '@renderq/shared';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ApiContext } from '../api-context.js';
import { Problem } from '../http/problems.js';
import { requestSpan } from '../http/request-tracing.js';
import {
  creationHeaders,
  InputParams,
  JobIdParams,
  JobListQuery,
  JobRequest,
  OutputParams,
  OutputQuery,
} from '../http/schemas.js';
import { startByOf } from '../http/start-by.js';
import { hasLargeBody, uploadGate } from '../http/upload-gate.js';
import { withAdmission } from '../services/admission.js';
import { cancelJob } from '../services/cancel-job.js';
import { sendStored } from '../services/downloads.js';
import { answerIdempotently, idempotencyKeyOf } from '../services/idempotent-request.js';
import { filtersOf, readCursor, writeCursor } from '../services/job-cursor.js';
import { jobView, jobViews } from '../services/job-views.js';
import { bodyBytes } from '../services/memory-guard.js';
import { linkedJob, ownJob } from '../services/ownership.js';
import {
  MAX_WAIT_SECONDS,
  PREFER_HEADERS,
  preferredWait,
  waitedCreation,
  waitForFinish,
} from '../services/prefer-wait.js';
import { storeJobInputs, withStoredInputs } from '../services/stored-inputs.js';
import { urlsOfJob } from '../services/url-guard.js';

/** One request per model, as `POST /v1/jobs` takes it (the OpenAPI document's examples). */
const JOB_EXAMPLES = Object.fromEntries(
  listModels().map((model) => [
    model.name,
    { summary: `${model.title} (${model.kind})`, value: { model: model.name, input: model.example } },
  ]),
);

export async function jobRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const routes = app.withTypeProvider<ZodTypeProvider>();

  routes.post(
    '/v1/jobs',
    {
      config: { access: 'tenant', traced: true },
      // A large body (an inline image) takes an upload slot and must keep up a floor speed, as a batch does.
      ...uploadGate(ctx, hasLargeBody),
      // After the job is made (or an Idempotency-Key's replay answered), so both wait alike.
      onSend: async (request, reply, payload) => waitedCreation(ctx, request, reply, payload),
      schema: {
        summary: 'Create a job',
        description:
          'An input image may be an http(s) URL (kept as given) or sent inline as base64 or a data: URI: ' +
          'it is then stored with the job, which shows it as {url, sha256, content_type, size}. ' +
          `Bodies of up to 32 MiB. With \`Prefer: wait=N\` (N at most ${MAX_WAIT_SECONDS}) the answer waits up to N ` +
          'seconds for the job to finish: 200 with the finished job, or 202 with the job as it is then, and ' +
          '`Preference-Applied: wait=N`.',
        tags: ['jobs'],
        body: JobRequest,
        bodyExamples: JOB_EXAMPLES,
        headers: creationHeaders('job').extend(PREFER_HEADERS.shape),
        response: {
          200: Job,
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
      const key = idempotencyKeyOf(request);
      const create = async (claimedId?: string) => {
        const body = request.body;
        const startBy = startByOf(body);
        const validated = validateModelInput(body.model, body.input, { allowUnknown: ctx.config.models.allowUnknown });
        if (!validated.ok) throw new Problem('validation_failed', 'the job is not valid', validated.issues);
        const refused = await ctx.urlGuard.check(urlsOfJob(validated.input, body.webhook_url));
        if (refused.length > 0)
          throw new Problem('validation_failed', 'the job names a URL renderq will not call', refused);
        const admission = {
          tenant: request.tenant,
          jobs: [validated],
          bodyBytes: bodyBytes(request),
          webhookUrl: body.webhook_url,
          webhookEvents: body.webhook_events,
        };
        // The job's steps go under this request's span (the caller's trace, when it sent one).
        const traceParent = traceParentOf(requestSpan(request));
        const enqueue = { 'renderq.tenant': request.tenant, 'renderq.model': validated.model };
        const record = await ctx.traces.run(traceParent, 'renderq.enqueue', enqueue, (span) =>
          withAdmission(ctx, admission, async ([admitted]) => {
            // Accepted: inline images are stored under the job's id (an Idempotency-Key's claim names it).
            const id = claimedId ?? newId('job');
            span.setAttribute('renderq.job_id', id);
            const { input, inputs } = await storeJobInputs(ctx, id, validated.model, validated.input);
            return withStoredInputs(ctx, inputs, () =>
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
                ...(startBy ? { startBy } : {}),
                ...admitted,
                traceParent,
              }),
            );
          }),
        );
        ctx.metrics.jobsEnqueued.inc({ model: record.model });
        return { status: 202 as const, body: await jobView(ctx, record) };
      };
      if (key === undefined) {
        const answer = await create();
        return reply.code(202).send(answer.body);
      }
      return answerIdempotently(ctx, request, reply, key, {
        request: request.body,
        newId: () => newId('job'),
        made: async (id) => {
          const made = await ctx.store.get(id);
          return made && made.tenant === request.tenant ? jobView(ctx, made) : undefined;
        },
        create,
      });
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
        jobs: await jobViews(ctx, page.records),
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
        description:
          `With \`Prefer: wait=N\` (N at most ${MAX_WAIT_SECONDS}), the answer waits up to N seconds for the job to ` +
          'finish and says so with `Preference-Applied: wait=N`: the finished job, or the job as it is then.',
        tags: ['jobs'],
        params: JobIdParams,
        headers: PREFER_HEADERS,
        response: { 200: Job, 404: ProblemSchema },
      },
    },
    async (request, reply) => {
      const read = () => ownJob(ctx, request.tenant, request.params.id);
      const wait = preferredWait(request);
      const record = wait === undefined ? await read() : await waitForFinish(ctx, reply, request.params.id, wait, read);
      return jobView(ctx, record);
    },
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
      return jobView(ctx, await ownJob(ctx, request.tenant, record.id));
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

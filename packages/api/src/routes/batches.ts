/**
 * Batches: up to 10,000 jobs in one request, as JSON or NDJSON (read as a stream,
 * errors by line), all or nothing; read, list its jobs as an NDJSON stream, cancel.
 * Creating one reads the body (http/batch-body.ts), checks every job
 * (services/batch-validation.ts), charges the tenant's enqueue rate, stores inline
 * images, records the batch (services/batch-creation.ts) and answers with it
 * (services/batch-answer.ts).
 */

import { Readable } from 'node:stream';
import { Batch, CreatedBatch, Job, type ProblemIssue, Problem as ProblemSchema } from '@renderq/contract';
import { isFinal, type JobRecord, newId, publicBatch, traceParentOf } from '@renderq/shared';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { ApiContext } from '../api-context.js';
import { readBatchBody } from '../http/batch-body.js';
import { BATCH_EXAMPLES } from '../http/batch-examples.js';
import { MAX_JSON_BATCH_BYTES, MAX_NDJSON_BATCH_BYTES, MAX_NDJSON_LINE_BYTES } from '../http/batch-limits.js';
import { Problem } from '../http/problems.js';
import { requestSpan } from '../http/request-tracing.js';
import { BatchIdParams, BatchJobRequest, BatchQuery, BatchRequest, creationHeaders } from '../http/schemas.js';
import { startByOf } from '../http/start-by.js';
import { uploadGate } from '../http/upload-gate.js';
import { withAdmission } from '../services/admission.js';
import { compactBatchAnswer, createdBatch, madeBatch } from '../services/batch-answer.js';
import { recordBatch } from '../services/batch-creation.js';
import { checkBatchJobs } from '../services/batch-validation.js';
import { cancelJob } from '../services/cancel-job.js';
import { answerIdempotently, idempotencyKeyOf } from '../services/idempotent-request.js';
import { jobViews } from '../services/job-views.js';
import { bodyBytes } from '../services/memory-guard.js';
import { ownBatch } from '../services/ownership.js';
import { storeBatchInputs } from '../services/stored-inputs.js';

/** Jobs shown per round of reads while a batch's jobs are streamed. */
const VIEW_PAGE = 100;

/** The most issues one refusal lists; its detail still counts them all. */
const MAX_LISTED_ERRORS = 200;

export async function batchRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  // NDJSON is read line by line from the request stream, never buffered whole.
  app.addContentTypeParser('application/x-ndjson', (_request, payload, done) => done(null, payload));

  routes.post(
    '/v1/batches',
    {
      bodyLimit: MAX_JSON_BATCH_BYTES,
      config: {
        access: 'tenant',
        traced: true,
        acceptedTypes: ['application/json', 'application/x-ndjson'],
        bodyTooLargeHint: `send large batches as application/x-ndjson, one job per line (up to ${MAX_NDJSON_BATCH_BYTES} bytes)`,
      },
      // Every batch takes an upload slot before its body is read, and is cut if it trickles.
      ...uploadGate(ctx, () => true),
      schema: {
        summary: 'Create a batch of up to 10,000 jobs',
        description:
          `JSON \`{jobs, webhook_url?, metadata?}\` (at most ${MAX_JSON_BATCH_BYTES} bytes), or ` +
          `\`application/x-ndjson\` with one job per line (lines of at most ${MAX_NDJSON_LINE_BYTES} bytes, ` +
          `${MAX_NDJSON_BATCH_BYTES} in all) and \`webhook_url\` as a query parameter. All or nothing: one ` +
          'invalid job and nothing is enqueued. 429 with Retry-After beyond the tenant’s enqueue rate; 503 with ' +
          'Retry-After while every upload slot stays busy.',
        tags: ['batches'],
        querystring: BatchQuery,
        headers: creationHeaders('batch'),
        documentedBody: {
          'application/json': { schema: BatchRequest, examples: BATCH_EXAMPLES.json },
          'application/x-ndjson': {
            schema: BatchJobRequest.describe(
              'One job per line, each such an object; `webhook_url`, `webhook_events` and `priority` go in the query.',
            ),
            examples: BATCH_EXAMPLES.ndjson,
          },
        },
        response: {
          202: CreatedBatch,
          400: ProblemSchema,
          409: ProblemSchema,
          413: ProblemSchema,
          415: ProblemSchema,
          422: ProblemSchema,
          429: ProblemSchema,
          503: ProblemSchema,
        },
      },
    },
    async (request, reply) => {
      const key = idempotencyKeyOf(request);
      const batch = await readBatchBody(request);
      const create = async (claimedId?: string) => {
        const startBy = startByOf(batch);
        const { jobs, issues } = await checkBatchJobs(ctx, request.tenant, batch);
        if (issues.length > 0) throw invalidBatch(issues);
        // All of the batch or none of it, before anything is recorded or stored.
        const admission = {
          tenant: request.tenant,
          jobs,
          bodyBytes: bodyBytes(request),
          webhookUrl: batch.webhook_url,
          webhookEvents: batch.webhook_events,
        };
        // One trace for the batch: every job's steps go under this request's span.
        const traceParent = traceParentOf(requestSpan(request));
        const enqueue = { 'renderq.tenant': request.tenant, 'renderq.jobs': jobs.length };
        const recorded = await ctx.traces.run(traceParent, 'renderq.enqueue', enqueue, (span) =>
          withAdmission(ctx, admission, async (admitted) => {
            const prepared = await storeBatchInputs(ctx, jobs);
            const made = await recordBatch(
              ctx,
              request.log,
              {
                ...(claimedId ? { id: claimedId } : {}),
                tenant: request.tenant,
                metadata: batch.metadata ?? null,
                webhookUrl: batch.webhook_url ?? null,
                webhookEvents: batch.webhook_events ?? null,
                ...(batch.priority ? { priority: batch.priority } : {}),
                traceParent,
              },
              prepared.map((job, i) => ({ ...job, ...admitted[i], traceParent, ...(startBy ? { startBy } : {}) })),
            );
            span.setAttribute('renderq.batch_id', made.batch.id);
            return made;
          }),
        );
        return { status: 202, body: createdBatch(ctx, recorded.batch, recorded.jobIds) };
      };
      if (key === undefined) return reply.code(202).send((await create()).body);
      return answerIdempotently(ctx, request, reply, key, {
        request: batch.asSent,
        newId: () => newId('bat'),
        made: (id) => madeBatch(ctx, request.tenant, id),
        create,
        compact: compactBatchAnswer(ctx),
      });
    },
  );

  routes.get(
    '/v1/batches/:id',
    {
      config: { access: 'tenant' },
      schema: {
        summary: 'Read a batch',
        tags: ['batches'],
        params: BatchIdParams,
        response: { 200: Batch, 404: ProblemSchema },
      },
    },
    async (request) => publicBatch(await ownBatch(ctx, request.tenant, request.params.id), ctx.links),
  );

  routes.get(
    '/v1/batches/:id/jobs',
    {
      config: { access: 'tenant' },
      schema: {
        summary: "A batch's jobs, one per line (application/x-ndjson), streamed",
        tags: ['batches'],
        params: BatchIdParams,
        response: {
          200: {
            description: 'One job per line, in creation order.',
            content: { 'application/x-ndjson': { schema: Job.describe('Each line is one job.') } },
          },
          404: ProblemSchema,
        },
      },
    },
    async (request, reply) => {
      const batch = await ownBatch(ctx, request.tenant, request.params.id);
      // A page of jobs at a time: their places are read in one round trip.
      const lines = async function* () {
        let page: JobRecord[] = [];
        const views = async function* () {
          for (const view of await jobViews(ctx, page)) yield `${JSON.stringify(view)}\n`;
          page = [];
        };
        for await (const record of ctx.store.batchJobs(batch.id)) {
          page.push(record);
          if (page.length === VIEW_PAGE) yield* views();
        }
        yield* views();
      };
      // A stream of lines, as the 200's content type documents. The type provider would hold the answer to the
      // JSON it knows (a Job); fastify's own reply type takes any payload.
      const plain: FastifyReply = reply;
      return plain.type('application/x-ndjson').send(Readable.from(lines()));
    },
  );

  routes.post(
    '/v1/batches/:id/cancel',
    {
      config: { access: 'tenant' },
      schema: {
        summary: 'Cancel every job of a batch not yet finished',
        tags: ['batches'],
        params: BatchIdParams,
        response: { 200: Batch, 404: ProblemSchema, 409: ProblemSchema },
      },
    },
    async (request) => {
      const batch = await ownBatch(ctx, request.tenant, request.params.id);
      if (!(await ctx.store.markBatchCancelled(batch.id))) {
        throw new Problem('conflict', `batch ${batch.id} has already finished (${batch.status})`);
      }
      for await (const record of ctx.store.batchJobs(batch.id)) {
        if (!isFinal(record.stage.name)) await cancelJob(ctx, record);
      }
      return publicBatch(await ownBatch(ctx, request.tenant, batch.id), ctx.links);
    },
  );
}

function invalidBatch(issues: readonly ProblemIssue[]): Problem {
  return new Problem(
    'validation_failed',
    `${issues.length} problem(s) in the batch; nothing was enqueued`,
    issues.slice(0, MAX_LISTED_ERRORS),
  );
}

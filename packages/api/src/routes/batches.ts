/**
 * Batches: up to 10,000 jobs in one request, as JSON or NDJSON (read as a stream,
 * errors by line), all or nothing; read, list its jobs as an NDJSON stream, cancel.
 * The body is read by http/batch-body.ts (within http/batch-limits.ts), its jobs checked
 * by services/batch-validation.ts.
 */

import { Readable } from 'node:stream';
import { Batch, CreatedBatch, Job, type ProblemIssue, Problem as ProblemSchema } from '@renderq/contract';
import { type BatchRecord, isFinal, newId, type PublicBatch, publicBatch, publicJob } from '@renderq/shared';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { ApiContext } from '../api-context.js';
import { readBatchBody } from '../http/batch-body.js';
import { BATCH_EXAMPLES } from '../http/batch-examples.js';
import { MAX_JSON_BATCH_BYTES, MAX_NDJSON_BATCH_BYTES, MAX_NDJSON_LINE_BYTES } from '../http/batch-limits.js';
import { Problem } from '../http/problems.js';
import { BatchIdParams, BatchJobRequest, BatchQuery, BatchRequest, creationHeaders } from '../http/schemas.js';
import { uploadGate } from '../http/upload-gate.js';
import { checkBatchJobs } from '../services/batch-validation.js';
import { cancelJob } from '../services/cancel-job.js';
import { answerIdempotently, idempotencyKeyOf } from '../services/idempotent-request.js';
import { ownBatch } from '../services/ownership.js';
import { storeBatchInputs, withStoredInputs } from '../services/stored-inputs.js';

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
        const { jobs, issues } = await checkBatchJobs(ctx, request.tenant, batch);
        if (issues.length > 0) throw invalidBatch(issues);
        // All of the batch or none of it, before anything is recorded or stored.
        await ctx.enqueueRate.charge(request.tenant, jobs.length);
        const prepared = await storeBatchInputs(ctx, jobs);
        const {
          batch: record,
          jobIds,
          enqueued,
        } = await withStoredInputs(
          ctx,
          prepared.flatMap((job) => job.inputs ?? []),
          () =>
            ctx.store.createBatch(
              {
                ...(claimedId ? { id: claimedId } : {}),
                tenant: request.tenant,
                metadata: batch.metadata ?? null,
                webhookUrl: batch.webhook_url ?? null,
                webhookEvents: batch.webhook_events ?? null,
                ...(batch.priority ? { priority: batch.priority } : {}),
              },
              prepared,
            ),
        );
        // Accepted once recorded; a job not enqueued here is enqueued by the workers' recovery.
        const background = enqueued.catch((error: unknown) =>
          request.log.warn({ err: error, batch_id: record.id }, 'enqueueing a batch failed; recovery will finish it'),
        );
        ctx.background.add(background);
        void background.finally(() => ctx.background.delete(background));
        for (const job of jobs) ctx.metrics.jobsEnqueued.inc({ model: job.model });
        return { status: 202, body: createdBatch(record, jobIds) };
      };
      if (key === undefined) return reply.code(202).send((await create()).body);
      return answerIdempotently(ctx, request, reply, key, {
        request: batch.asSent,
        newId: () => newId('bat'),
        made: async (id) => {
          const batch = await ctx.store.getBatchOwned(request.tenant, id);
          return batch && createdBatch(batch, await ctx.store.batchJobIds(id, 0, batch.counts.total));
        },
        create,
        // The answer lists up to 10,000 job ids: the batch as first answered is kept for 24 h, its
        // job ids are read again from the batch (they never change).
        compact: {
          keep: (body) => ({ ...(body as PublicBatch), jobs: undefined }),
          restore: async (kept, id) => {
            const batch = kept as PublicBatch;
            return withJobIds(batch, await ctx.store.batchJobIds(id, 0, batch.counts.total));
          },
        },
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
    async (request) => publicBatch(await ownBatch(ctx, request.tenant, request.params.id)),
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
      const lines = async function* () {
        for await (const record of ctx.store.batchJobs(batch.id))
          yield `${JSON.stringify(await publicJob(record, ctx.links))}\n`;
      };
      // A stream of lines, as the 200's content type documents; the type provider knows only JSON answers.
      return reply.type('application/x-ndjson').send(Readable.from(lines()) as never);
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
      return publicBatch(await ownBatch(ctx, request.tenant, batch.id));
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

/** The answer to a batch's creation: the batch and its jobs' ids in the order they were sent. */
function createdBatch(batch: BatchRecord, jobIds: readonly string[]) {
  return withJobIds(publicBatch(batch), jobIds);
}

function withJobIds(batch: PublicBatch, jobIds: readonly string[]) {
  return { ...batch, jobs: jobIds.map((id, index) => ({ index, id })) };
}

/**
 * Batches: up to 10,000 jobs in one request, as JSON or NDJSON (read as a stream,
 * errors by line), all or nothing; read, list its jobs as an NDJSON stream, cancel.
 */

import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { formatPath, isFinal, issuesFromZod, type NewJob, publicBatch, validateModelInput } from '@renderq/shared';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { z } from 'zod';
import type { ApiContext } from '../api-context.js';
import { jsonDepth, MAX_JSON_DEPTH } from '../http/json-depth.js';
import { Problem } from '../http/problems.js';
import { Batch, BatchIdParams, BatchJobRequest, BatchQuery, BatchRequest, ProblemSchema } from '../http/schemas.js';
import { cancelJob } from '../services/cancel-job.js';
import { ownBatch } from '../services/ownership.js';
import { urlsOfJob } from '../services/url-guard.js';
import { jobView } from '../services/views.js';

export const MAX_BATCH_JOBS = 10_000;
/** A batch body may carry base64 images; the cap keeps one request from exhausting memory. */
export const MAX_BATCH_BYTES = 256 * 1024 * 1024;
const MAX_LISTED_ERRORS = 200;

interface BatchIssue {
  readonly index?: number;
  readonly line?: number;
  readonly path: string;
  readonly message: string;
}

export async function batchRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  // NDJSON is read line by line from the request stream, never buffered whole.
  app.addContentTypeParser('application/x-ndjson', (_request, payload, done) => done(null, payload));

  routes.post(
    '/v1/batches',
    {
      config: { access: 'tenant' },
      bodyLimit: MAX_BATCH_BYTES,
      schema: {
        summary: 'Create a batch of up to 10,000 jobs',
        description:
          'JSON `{jobs, webhook_url?, metadata?}`, or `application/x-ndjson` with one job per line and ' +
          '`webhook_url` as a query parameter. All or nothing: one invalid job and nothing is enqueued.',
        tags: ['batches'],
        querystring: BatchQuery,
        response: { 202: Batch, 400: ProblemSchema, 413: ProblemSchema, 415: ProblemSchema },
      },
    },
    async (request, reply) => {
      const ndjson = String(request.headers['content-type'] ?? '').startsWith('application/x-ndjson');
      const parsed = ndjson
        ? {
            jobs: await readNdjson(request.body as Readable),
            webhook_url: request.query.webhook_url,
            webhook_events: request.query.webhook_events,
            metadata: undefined,
            priority: request.query.priority,
          }
        : parseJsonBatch(request.body);
      const jobs: NewJob[] = [];
      const issues: BatchIssue[] = [];
      issues.push(...(await ctx.urlGuard.check(urlsOfJob({}, parsed.webhook_url))));
      for (const [position, entry] of parsed.jobs.entries()) {
        const where = ndjson ? { line: position + 1 } : { index: position };
        if ('issues' in entry) {
          issues.push(...entry.issues.map((issue) => ({ ...where, ...issue })));
          continue;
        }
        const validated = validateModelInput(entry.model, entry.input, {
          allowUnknown: ctx.config.models.allowUnknown,
        });
        if (!validated.ok) {
          issues.push(...validated.issues.map((issue) => ({ ...where, ...issue })));
          continue;
        }
        const refused = await ctx.urlGuard.check(urlsOfJob(validated.input, undefined));
        issues.push(...refused.map((issue) => ({ ...where, ...issue })));
        jobs.push({
          tenant: request.tenant,
          model: validated.model,
          input: validated.input,
          metadata: entry.metadata ?? null,
        });
      }
      if (issues.length > 0) {
        throw new Problem(
          'validation_failed',
          `${issues.length} problem(s) in the batch; nothing was enqueued`,
          issues.slice(0, MAX_LISTED_ERRORS) as never,
        );
      }
      const { batch, enqueued } = await ctx.store.createBatch(
        {
          tenant: request.tenant,
          metadata: parsed.metadata ?? null,
          webhookUrl: parsed.webhook_url ?? null,
          webhookEvents: parsed.webhook_events ?? null,
          ...(parsed.priority ? { priority: parsed.priority } : {}),
        },
        jobs,
      );
      // Accepted once recorded; a job not enqueued here is enqueued by the workers' recovery.
      const background = enqueued.catch((error: unknown) =>
        request.log.warn({ err: error, batch_id: batch.id }, 'enqueueing a batch failed; recovery will finish it'),
      );
      ctx.background.add(background);
      void background.finally(() => ctx.background.delete(background));
      for (const job of jobs) ctx.metrics.jobsEnqueued.inc({ model: job.model });
      return reply.code(202).send(publicBatch(batch));
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
      },
    },
    async (request, reply) => {
      const batch = await ownBatch(ctx, request.tenant, request.params.id);
      const lines = async function* () {
        for await (const record of ctx.store.batchJobs(batch.id))
          yield `${JSON.stringify(await jobView(record, ctx.links))}\n`;
      };
      return reply.type('application/x-ndjson').send(Readable.from(lines()));
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
        if (!isFinal(record.stage.name)) await cancelJob(ctx, record.id, record.model);
      }
      return publicBatch(await ownBatch(ctx, request.tenant, batch.id));
    },
  );
}

type Entry = z.infer<typeof BatchJobRequest> | { issues: { path: string; message: string }[] };

function parseJsonBatch(body: unknown) {
  const parsed = BatchRequest.safeParse(body);
  if (!parsed.success) {
    // Errors inside one job name it by index, the field relative to the job; the rest are the batch's own.
    const issues = parsed.error.issues.map((issue) => {
      const [head, index, ...rest] = issue.path;
      return head === 'jobs' && typeof index === 'number'
        ? { index, path: formatPath(rest), message: issue.message }
        : { path: formatPath(issue.path), message: issue.message };
    });
    throw new Problem('validation_failed', 'the batch is not valid', issues as never);
  }
  if (parsed.data.jobs.length > MAX_BATCH_JOBS) {
    throw new Problem(
      'payload_too_large',
      `a batch holds at most ${MAX_BATCH_JOBS} jobs (got ${parsed.data.jobs.length})`,
    );
  }
  return { ...parsed.data, jobs: parsed.data.jobs as Entry[] };
}

async function readNdjson(body: Readable): Promise<Entry[]> {
  const entries: Entry[] = [];
  let bytes = 0;
  const lines = createInterface({ input: body, crlfDelay: Number.POSITIVE_INFINITY });
  for await (const line of lines) {
    bytes += Buffer.byteLength(line) + 1;
    if (bytes > MAX_BATCH_BYTES)
      throw new Problem('payload_too_large', `a batch body is at most ${MAX_BATCH_BYTES} bytes`);
    if (line.trim() === '') continue;
    if (entries.length === MAX_BATCH_JOBS) {
      body.resume();
      throw new Problem('payload_too_large', `a batch holds at most ${MAX_BATCH_JOBS} jobs`);
    }
    entries.push(parseLine(line));
  }
  if (entries.length === 0)
    throw new Problem('validation_failed', 'the batch holds no jobs', [
      { path: 'body', message: 'must hold at least one line' },
    ]);
  return entries;
}

function parseLine(line: string): Entry {
  if (jsonDepth(line) > MAX_JSON_DEPTH) {
    return { issues: [{ path: '', message: `nested deeper than ${MAX_JSON_DEPTH} levels` }] };
  }
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    return { issues: [{ path: '', message: `not valid JSON: ${(error as Error).message}` }] };
  }
  const parsed = BatchJobRequest.safeParse(value);
  return parsed.success ? parsed.data : { issues: issuesFromZod(parsed.error) };
}
